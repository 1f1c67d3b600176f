package config

import (
	"strings"
	"testing"
)

func TestLXDProviderConfig(t *testing.T) {
	setBaseEnv(t)
	lxd := strings.Replace(minimal, "type: process", "type: lxd", 1)
	c, err := Parse([]byte(lxd+"    lxd: {socket: /var/lib/lxd/unix.socket, image: debian/12, profiles: [default, big_1], network: paddockbr0, storage_pool: paddock, max_cpu: 2, forward: [\"127.0.0.1:9000\"]}\n"), "paddock.yaml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if l := c.Providers[0].LXD; l == nil || l.Image != "debian/12" || l.Network != "paddockbr0" || l.StoragePool != "paddock" ||
		len(l.Profiles) != 2 || l.MaxCPU != 2 || l.Forward[0] != "127.0.0.1:9000" {
		t.Fatalf("lxd block = %+v", c.Providers[0].LXD)
	}
	for _, tc := range []struct{ src, want string }{
		{lxd + "    lxd: {socket: unix.socket}\n", `providers[0].lxd.socket: "unix.socket": want an absolute path`},
		{lxd + "    lxd: {image: \"images:debian/12\"}\n", `providers[0].lxd.image: image alias "images:debian/12" names a remote`},
		{lxd + "    lxd: {image: \"../x\"}\n", `providers[0].lxd.image: image alias "../x" may hold only`},
		{lxd + "    lxd: {profiles: [\"a b\"]}\n", `providers[0].lxd.profiles: profile name "a b" may hold only`},
		{lxd + "    lxd: {network: \"-br\"}\n", `providers[0].lxd.network: network name "-br" must start with`},
		{lxd + "    lxd: {memory_mb: -1}\n", `providers[0].lxd.memory_mb: must not be negative`},
		{lxd + "    lxd: {forward: [\"10.0.0.1:80\"]}\n", `providers[0].lxd.forward: "10.0.0.1:80": want 127.0.0.1:port`},
		{minimal + "    lxd: {image: x}\n", `providers[0].lxd: only valid for type lxd`},
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
