package core

import "testing"

func TestParseSize(t *testing.T) {
	cases := []struct {
		in   string
		ok   bool
		want Size
	}{
		{"4cpu-16gb", true, Size{Label: "4cpu-16gb", CPU: 4, MemoryMB: 16384}},
		{"4CPU-16GB", true, Size{Label: "4cpu-16gb", CPU: 4, MemoryMB: 16384}},
		{"2cpu-8gb-100gb", true, Size{Label: "2cpu-8gb-100gb", CPU: 2, MemoryMB: 8192, DiskGB: 100}},
		{"1024cpu-4096gb", true, Size{Label: "1024cpu-4096gb", CPU: 1024, MemoryMB: 4096 * 1024}},
		{"small", true, Size{Label: "small", CPU: 2, MemoryMB: 8192}},
		{"Medium", true, Size{Label: "medium", CPU: 4, MemoryMB: 16384}},
		{"LARGE", true, Size{Label: "large", CPU: 8, MemoryMB: 32768}},
		{"0cpu-16gb", false, Size{}},
		{"4cpu-0gb", false, Size{}},
		{"4cpu-16gb-0gb", false, Size{}},
		{"1025cpu-16gb", false, Size{}},
		{"4cpu-4097gb", false, Size{}},
		{"4cpu-16gb-99999gb", false, Size{}},
		{"999999999999cpu-16gb", false, Size{}},
		{"-4cpu-16gb", false, Size{}},
		{"4cpu16gb", false, Size{}},
		{"4cpu-16", false, Size{}},
		{"4cpu-16gb-", false, Size{}},
		{"4cpu-16gb-1gb-1gb", false, Size{}},
		{"4 cpu-16gb", false, Size{}},
		{"linux", false, Size{}},
		{"", false, Size{}},
		{"xlarge", false, Size{}},
	}
	for _, c := range cases {
		got, ok := ParseSize(c.in)
		if ok != c.ok || got != c.want {
			t.Errorf("ParseSize(%q) = %+v, %v; want %+v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestSizeFits(t *testing.T) {
	limits := &SizeLimits{MaxCPU: 8, MaxMemoryGB: 32, MaxDiskGB: 200}
	noDisk := &SizeLimits{MaxCPU: 8, MaxMemoryGB: 32}
	cases := []struct {
		label  string
		limits *SizeLimits
		want   bool
	}{
		{"8cpu-32gb", limits, true},
		{"9cpu-32gb", limits, false},
		{"8cpu-33gb", limits, false},
		{"8cpu-32gb-200gb", limits, true},
		{"8cpu-32gb-201gb", limits, false},
		{"8cpu-32gb-60000gb", noDisk, true}, // MaxDiskGB 0: no disk limit
		{"large", limits, true},
		{"small", nil, false}, // nil limits: sizes not accepted at all
	}
	for _, c := range cases {
		s, ok := ParseSize(c.label)
		if !ok {
			t.Fatalf("ParseSize(%q) failed", c.label)
		}
		if got := s.Fits(c.limits); got != c.want {
			t.Errorf("%q fits %+v = %v, want %v", c.label, c.limits, got, c.want)
		}
	}
}
