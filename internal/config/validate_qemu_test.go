package config

import (
	"strings"
	"testing"
)

func TestQEMUProviderConfig(t *testing.T) {
	setBaseEnv(t)
	qemu := strings.Replace(minimal, "type: process", "type: qemu", 1)
	c, err := Parse([]byte(qemu+"    qemu: {accel: tcg, memory_mb: 1024, workspace: tmpfs, start: snapshot, forward: [\"127.0.0.1:9000\"]}\n"), "paddock.yaml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if q := c.Providers[0].QEMU; q == nil || q.Accel != "tcg" || q.Workspace != "tmpfs" || q.MemoryMB != 1024 || q.Forward[0] != "127.0.0.1:9000" || q.Start != "snapshot" {
		t.Fatalf("qemu block = %+v", c.Providers[0].QEMU)
	}
	for _, tc := range []struct{ src, want string }{
		{qemu + "    qemu: {accel: hvf}\n", `providers[0].qemu.accel: "hvf": want auto, kvm or tcg`},
		{qemu + "    qemu: {memory_mb: 64}\n", `providers[0].qemu.memory_mb: 64 MB is too little`},
		{qemu + "    qemu: {workspace: disk}\n", `providers[0].qemu.workspace: "disk": want scratch or tmpfs`},
		{qemu + "    qemu: {start: resume}\n", `providers[0].qemu.start: "resume": want boot or snapshot`},
		{qemu + "    qemu: {max_cpu: -1}\n", `providers[0].qemu.max_cpu: must not be negative`},
		{qemu + "    qemu: {forward: [nohostport]}\n", `providers[0].qemu.forward: "nohostport": want host:port`},
		{minimal + "    qemu: {accel: tcg}\n", `providers[0].qemu: only valid for type qemu`},
	} {
		var got []string
		found := false
		for _, p := range parseErr(t, tc.src) {
			found = found || strings.Contains(p.String(), tc.want)
			got = append(got, p.String())
		}
		if !found {
			t.Errorf("no problem contains %q; got:\n%s", tc.want, strings.Join(got, "\n"))
		}
	}
}
