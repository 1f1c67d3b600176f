package config

import (
	"strings"
	"testing"
)

func TestViewerToken(t *testing.T) {
	setBaseEnv(t)
	long := strings.Repeat("v", 40)
	t.Setenv("T_VIEWER", long)
	t.Setenv("T_SHORT", "x")
	c := mustParse(t, strings.Replace(minimal, "server:\n", "server:\n  viewer_token: env:T_VIEWER\n", 1))
	if string(c.Server.ViewerToken) != long {
		t.Fatalf("viewer token not read from env: %q", c.Server.ViewerToken)
	}
	for _, tc := range []struct{ name, src, want string }{
		{"short", strings.Replace(minimal, "server:\n", "server:\n  viewer_token: env:T_SHORT\n", 1),
			"server.viewer_token: is 1 characters; at least 32 are required"},
		{"same as admin", strings.Replace(minimal, "server:\n", "server:\n  viewer_token: env:T_ADMIN\n", 1),
			"server.viewer_token: equals admin_token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			probs := parseErr(t, tc.src)
			if len(probs) != 1 || !strings.Contains(probs[0].String(), tc.want) {
				t.Fatalf("problems = %v, want one containing %q", probs, tc.want)
			}
		})
	}
}
