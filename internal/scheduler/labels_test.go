package scheduler

import (
	"reflect"
	"testing"

	"github.com/paddock-ci/paddock/internal/core"
)

func TestMatchPools(t *testing.T) {
	type m = string // "pool" or "pool+size"
	pools := []core.Pool{
		mkPool("low", labels("linux", "x64")),
		mkPool("high", labels("Linux", "X64"), priority(5)),
		mkPool("b-mid", labels("linux", "x64"), priority(2)),
		mkPool("a-mid", labels("linux", "x64"), priority(2)),
		mkPool("sized", labels("linux", "arm64"), sizes(8, 32, 100)),
		mkPool("sized-nodisk", labels("linux", "arm64"), sizes(16, 64, 0), priority(-1)),
		mkPool("gpu-off", labels("linux", "gpu"), disabled()),
		mkPool("other", labels("linux", "gpu"), entity("ent2")),
		mkPool("large-label", labels("windows", "large")),
	}
	cases := []struct {
		name   string
		entity string
		labels []string
		want   []m
	}{
		{"priority then name", "ent", []string{"linux", "x64"}, []m{"high", "a-mid", "b-mid", "low"}},
		{"case-insensitive", "ent", []string{"LINUX", "x64"}, []m{"high", "a-mid", "b-mid", "low"}},
		{"self-hosted implied", "ent", []string{"Self-Hosted", "x64"}, []m{"high", "a-mid", "b-mid", "low"}},
		{"duplicate labels ignored", "ent", []string{"x64", "X64", " x64 "}, []m{"high", "a-mid", "b-mid", "low"}},
		{"missing label", "ent", []string{"linux", "x64", "docker"}, nil},
		{"disabled pool excluded", "ent", []string{"gpu"}, nil},
		{"other entity only", "ent2", []string{"gpu"}, []m{"other"}},
		{"unknown entity", "nope", []string{"linux"}, nil},
		{"size within limits", "ent", []string{"arm64", "4cpu-16gb"}, []m{"sized+4cpu-16gb", "sized-nodisk+4cpu-16gb"}},
		{"size case-insensitive", "ent", []string{"ARM64", "Medium"}, []m{"sized+medium", "sized-nodisk+medium"}},
		{"size over cpu of one pool", "ent", []string{"arm64", "12cpu-16gb"}, []m{"sized-nodisk+12cpu-16gb"}},
		{"size over disk limit", "ent", []string{"arm64", "4cpu-16gb-500gb"}, []m{"sized-nodisk+4cpu-16gb-500gb"}},
		{"size over every limit", "ent", []string{"arm64", "64cpu-16gb"}, nil},
		{"size needs Sizes", "ent", []string{"x64", "small"}, nil},
		{"two size labels rejected", "ent", []string{"arm64", "small", "2cpu-4gb"}, nil},
		{"size label that is a pool label", "ent", []string{"windows", "LARGE"}, []m{"large-label"}},
		{"absurd size rejected", "ent", []string{"arm64", "0cpu-16gb"}, nil},
		{"no labels: every pool of entity", "ent2", nil, []m{"other"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []m
			for _, r := range MatchPools(pools, c.entity, c.labels) {
				s := r.Pool.Name
				if r.Size.Label != "" {
					s += "+" + r.Size.Label
				}
				got = append(got, s)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestMatchPoolsReturnsParsedSize(t *testing.T) {
	pools := []core.Pool{mkPool("p", sizes(8, 32, 0))}
	got := MatchPools(pools, "ent", []string{"linux", "4cpu-16gb-50gb"})
	want := Size{Label: "4cpu-16gb-50gb", CPU: 4, MemoryMB: 16384, DiskGB: 50}
	if len(got) != 1 || got[0].Size != want {
		t.Fatalf("got %+v, want one match with size %+v", got, want)
	}
}
