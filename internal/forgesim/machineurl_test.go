package forgesim_test

import (
	"strings"
	"testing"

	"github.com/paddock-ci/paddock/internal/forgesim"
)

// Machines behind NAT get the sim's machine URL in their JIT config and
// download links; the API itself keeps answering with the sim's own URL.
func TestMachineURLGoesToMachinesOnly(t *testing.T) {
	s, c := startSim(t, forgesim.Options{})
	if s.MachineURL() != s.URL() {
		t.Fatalf("default machine URL %s, want the sim's %s", s.MachineURL(), s.URL())
	}
	s.SetMachineURL("http://10.0.2.100:4242")
	jit := mintJIT(t, c, "o/r", "r-1", "linux")
	p, err := forgesim.DecodeJIT(jit.GetEncodedJITConfig())
	if err != nil {
		t.Fatal(err)
	}
	if p.SimURL != "http://10.0.2.100:4242/" {
		t.Fatalf("JIT config sim URL = %s", p.SimURL)
	}
	var out []map[string]any
	if r := rawCall(t, "GET", s.URL()+"repos/o/r/actions/runners/downloads", "t", nil, &out); r.StatusCode != 200 || len(out) == 0 {
		t.Fatalf("downloads: %d %v", r.StatusCode, out)
	}
	for _, d := range out {
		if u, _ := d["download_url"].(string); !strings.HasPrefix(u, "http://10.0.2.100:4242/_sim/downloads/") {
			t.Fatalf("download URL %s", u)
		}
	}
	if !strings.HasPrefix(s.URL(), "http://127.0.0.1:") {
		t.Fatalf("the sim's own URL changed to %s", s.URL())
	}
	s.SetMachineURL("")
	if s.MachineURL() != s.URL() {
		t.Fatal("clearing the machine URL did not restore the default")
	}
}
