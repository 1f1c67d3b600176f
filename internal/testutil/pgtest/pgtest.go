// Package pgtest starts a real, throw-away PostgreSQL for tests: Debian's
// server binaries, initdb into a temporary directory, postgres on a free
// loopback port (and a unix socket in that directory). Tests share one server
// per test binary (Shared) and get a fresh database each (DB); tests that need
// to stop and restart the database start their own (Start).
//
// Without the binaries a test skips, saying to install the postgresql package,
// except under CI=true, where it fails: CI must exercise the PostgreSQL paths.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNoBinaries: the PostgreSQL server programs are not installed.
var ErrNoBinaries = errors.New("PostgreSQL server binaries (initdb, postgres) not found under /usr/lib/postgresql/*/bin or on PATH; apt-get install postgresql")

// Server is one running (or stopped) PostgreSQL cluster owned by the test.
type Server struct {
	Port int    // TCP port on 127.0.0.1
	Dir  string // temporary directory: data/, the socket and the log
	bin  string
	cred *syscall.Credential

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	seq  int           // database name counter

	settings []string // extra -c name=value, after the defaults (the last one wins)
}

// BinDir finds the directory holding initdb and postgres: Debian installs the
// server under /usr/lib/postgresql/<major>/bin (pg_config --bindir names the
// client's), so the newest major there wins; then PATH.
func BinDir() (string, error) {
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	sort.Slice(matches, func(i, j int) bool { return major(matches[i]) > major(matches[j]) })
	for _, m := range matches {
		dir := filepath.Dir(m)
		if isExec(filepath.Join(dir, "initdb")) {
			return dir, nil
		}
	}
	if p, err := exec.LookPath("postgres"); err == nil {
		dir := filepath.Dir(p)
		if isExec(filepath.Join(dir, "initdb")) {
			return dir, nil
		}
	}
	return "", ErrNoBinaries
}

func major(postgresPath string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(postgresPath))))
	return n
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// skipOrFail skips the test when PostgreSQL is not installed, or fails under CI.
func skipOrFail(tb testing.TB, err error) {
	tb.Helper()
	if errors.Is(err, ErrNoBinaries) && os.Getenv("CI") != "true" {
		tb.Skip(err.Error())
	}
	tb.Fatalf("pgtest: %v", err)
}

var shared struct {
	once sync.Once
	srv  *Server
	err  error
}

// Shared returns the test binary's one PostgreSQL server, starting it on first
// use. Call Main from TestMain so it is stopped (and its directory removed)
// when the tests end; otherwise it dies with the test process (parent-death
// signal) but leaves its temporary directory behind.
func Shared(tb testing.TB) *Server {
	tb.Helper()
	shared.once.Do(func() { shared.srv, shared.err = start() })
	if shared.err != nil {
		skipOrFail(tb, shared.err)
	}
	return shared.srv
}

// Main runs the tests and then stops the shared server; use it as TestMain's body.
func Main(m *testing.M) {
	code := m.Run()
	if shared.srv != nil {
		shared.srv.destroy()
	}
	os.Exit(code)
}

// Start starts a server of the test's own (for tests that stop and restart
// it); it is stopped and removed when the test ends. settings are extra
// name=value server settings, applied after the harness's own (which turn
// durability off for speed; benchmarks pass Durable to turn it back on).
func Start(tb testing.TB, settings ...string) *Server {
	tb.Helper()
	s, err := start(settings...)
	if err != nil {
		skipOrFail(tb, err)
	}
	tb.Cleanup(s.destroy)
	return s
}

// DB creates an empty database for this test and returns its DSN (a URL
// connecting over TCP as the superuser "postgres", no password). The database
// is dropped when the test ends.
func DB(tb testing.TB) string {
	tb.Helper()
	return Shared(tb).DB(tb)
}

// DB creates an empty database on s for this test and returns its DSN.
func (s *Server) DB(tb testing.TB) string {
	tb.Helper()
	s.mu.Lock()
	s.seq++
	name := fmt.Sprintf("t%d_%d", os.Getpid(), s.seq)
	s.mu.Unlock()
	if err := s.exec("CREATE DATABASE " + name); err != nil {
		tb.Fatalf("pgtest: create database: %v", err)
	}
	tb.Cleanup(func() {
		if s.Running() {
			// FORCE: a test that leaked a connection must not fail the next one.
			_ = s.exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		}
	})
	return s.DSN(name)
}

// DSN is the URL of database name on s over TCP.
func (s *Server) DSN(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.Port, name)
}

func (s *Server) exec(sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	_, err = c.Exec(ctx, sql)
	return err
}

// Durable restores PostgreSQL's default, crash-safe commit settings.
var Durable = []string{"fsync=on", "synchronous_commit=on", "full_page_writes=on"}

func start(settings ...string) (*Server, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	// Not t.TempDir: its parents are private to root, and the server may run as
	// the postgres user.
	dir, err := os.MkdirTemp(tempRoot(), "pgtest-")
	if err != nil {
		return nil, err
	}
	s := &Server{Dir: dir, bin: bin, settings: settings}
	if err := s.init(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := s.Restart(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// init runs initdb. initdb and postgres refuse to run as root, so as root they
// run as the postgres user that Debian's package creates.
func (s *Server) init() error {
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return fmt.Errorf("running as root and there is no postgres user to run the server as (apt-get install postgresql creates it): %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}
		if err := os.Chown(s.Dir, uid, gid); err != nil {
			return err
		}
	}
	cmd := s.command("initdb", "-D", filepath.Join(s.Dir, "data"), "-U", "postgres",
		"-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %v: %s", err, out)
	}
	return nil
}

func (s *Server) command(prog string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(s.bin, prog), args...)
	cmd.Dir = s.Dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Pdeathsig: syscall.SIGKILL}
	return cmd
}

// Restart starts postgres (on the same port after the first time) and waits
// until it accepts connections.
func (s *Server) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("pgtest: server already running")
	}
	// A free port can be taken between probing and binding: on first start,
	// try a few; a restart keeps its port, so DSNs handed out stay valid.
	first := s.Port == 0
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if first {
			if s.Port, err = freePort(); err != nil {
				return err
			}
		}
		if err = s.launch(); err == nil || !first {
			return err
		}
	}
	return err
}

func (s *Server) launch() error {
	logPath := filepath.Join(s.Dir, "postgres.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	// Durability is irrelevant for a throw-away cluster; speed is not.
	cmd := s.command("postgres", "-D", filepath.Join(s.Dir, "data"),
		"-h", "127.0.0.1", "-p", strconv.Itoa(s.Port), "-k", s.Dir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=300", "-c", "log_min_messages=warning")
	for _, kv := range s.settings {
		cmd.Args = append(cmd.Args, "-c", kv)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-done:
			return fmt.Errorf("postgres exited during start-up: %s", tail(logPath))
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		c, err := pgx.Connect(ctx, s.DSN("postgres"))
		cancel()
		if err == nil {
			c.Close(context.Background())
			s.cmd, s.done = cmd, done
			return nil
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-done
			return fmt.Errorf("postgres did not accept connections within 60s (%v): %s", err, tail(logPath))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop shuts the server down (fast shutdown: open connections are cut) and
// waits for it to exit. Restart brings it back on the same port.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd, s.done = nil, nil
}

// Running reports whether the server process is up.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return false
	}
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

func (s *Server) destroy() {
	s.Stop()
	os.RemoveAll(s.Dir)
}

// tempRoot is where the cluster's directory goes: the usual temporary
// directory, unless the server runs as another user who could not reach it
// (a root-only TMPDIR); then /tmp, which every user can.
func tempRoot() string {
	root := os.TempDir()
	if os.Geteuid() != 0 {
		return root
	}
	for d := root; ; d = filepath.Dir(d) {
		if st, err := os.Stat(d); err != nil || st.Mode().Perm()&0o001 == 0 {
			return "/tmp"
		}
		if d == filepath.Dir(d) {
			return root
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	s := strings.TrimSpace(string(b))
	if len(s) > 2000 {
		s = s[len(s)-2000:]
	}
	return s
}
