package cli

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `paddock serve` with a PostgreSQL store nobody answers at: exit status 1
// and an error naming the address and what to check, not the password.
func TestServeUnreachableDatabase(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	t.Setenv("T_SERVE_DSN", "postgres://paddock:pw-not-shown@"+addr+"/paddock?sslmode=disable&connect_timeout=5")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "paddock.yaml")
	src := "server: {listen: '127.0.0.1:0', admin_token: admin-token-0123456789abcdef0123456}\n" +
		"store: {driver: postgres, dsn: env:T_SERVE_DSN, encryption_key: " + strings.Repeat("cd", 32) + "}\n" +
		"state_dir: " + dir + "\nproviders: [{name: local, type: process}]\n"
	if err := os.WriteFile(cfg, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := run(NewRoot(builtinCommands()...), []string{"serve", "-c", cfg}, &stdout, &stderr)
	if code == 0 {
		t.Fatal("serve exited 0 with the database unreachable")
	}
	msg := stderr.String()
	for _, want := range []string{"cannot connect to PostgreSQL at " + addr, "check that PostgreSQL is running"} {
		if !strings.Contains(msg, want) {
			t.Errorf("stderr %q does not say %q", msg, want)
		}
	}
	if strings.Contains(msg, "pw-not-shown") {
		t.Errorf("stderr repeats the password: %q", msg)
	}
}
