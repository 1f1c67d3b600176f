package bootstrap

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
)

// The phases are reported in order, "online" only once the runner says it
// listens for jobs.
func TestPhasesAreReported(t *testing.T) {
	tb := tarball(t, map[string]string{"run.sh": "#!/bin/sh\necho connecting\nprintf 'Listening for'\nprintf ' Jobs\\n'\nprintf 'Listening for Jobs\\n'\n"})
	m := newManager(t, tb, sum(tb))
	var mu sync.Mutex
	var phases []string
	o := m.opts(t.TempDir(), "tok")
	o.Phase = func(p string) { mu.Lock(); phases = append(phases, p); mu.Unlock() }
	if err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Join(phases, ","); got != "config,runner,online" {
		t.Fatalf("phases = %s", got)
	}
}

func TestOnlineWatchSeesALineSplitAcrossWrites(t *testing.T) {
	n := 0
	w := &onlineWatch{w: io.Discard, online: func() { n++ }}
	for _, s := range []string{"runner starting\nListen", "ing for J", "obs\nListening for Jobs\n"} {
		w.Write([]byte(s))
	}
	if n != 1 {
		t.Fatalf("online called %d times", n)
	}
	n = 0
	w = &onlineWatch{w: io.Discard, online: func() { n++ }}
	w.Write([]byte("Listening for jobs? no: Listening for J0bs\n"))
	if n != 0 {
		t.Fatal("online on a line that does not say it")
	}
}
