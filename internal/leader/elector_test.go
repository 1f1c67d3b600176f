package leader

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/leader/fence"
	"github.com/paddock-ci/paddock/internal/testutil"
)

// memLease is the lease row in memory, with the database's semantics: one
// atomic step per call, expiry by its own clock. cut makes every call of
// a holder fail (a broken network); hang makes them block until their
// context ends (a network that drops packets silently).
type memLease struct {
	mu      sync.Mutex
	holder  string
	epoch   int64
	expires time.Time
	cut     map[string]bool
	hang    map[string]bool
	// expiry records, per epoch, the last deadline the row gave it.
	expiry map[int64]time.Time
}

func newMemLease() *memLease {
	return &memLease{cut: map[string]bool{}, hang: map[string]bool{}, expiry: map[int64]time.Time{}}
}

var errCut = errors.New("connection refused")

func (m *memLease) gate(ctx context.Context, holder string) error {
	m.mu.Lock()
	cut, hang := m.cut[holder], m.hang[holder]
	m.mu.Unlock()
	if hang {
		<-ctx.Done()
		return ctx.Err()
	}
	if cut {
		return errCut
	}
	return nil
}

func (m *memLease) TryAcquire(ctx context.Context, holder string, lease time.Duration) (int64, bool, time.Duration, error) {
	if err := m.gate(ctx, holder); err != nil {
		return 0, false, 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	if m.holder != "" && now.Before(m.expires) {
		return 0, false, m.expires.Sub(now), nil
	}
	m.holder, m.epoch, m.expires = holder, m.epoch+1, now.Add(lease)
	m.expiry[m.epoch] = m.expires
	return m.epoch, true, 0, nil
}

func (m *memLease) Renew(ctx context.Context, holder string, epoch int64, lease time.Duration) (bool, error) {
	if err := m.gate(ctx, holder); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	if m.holder != holder || m.epoch != epoch || !now.Before(m.expires) {
		return false, nil
	}
	m.expires = now.Add(lease)
	m.expiry[epoch] = m.expires
	return true, nil
}

func (m *memLease) Release(ctx context.Context, holder string, epoch int64) error {
	if err := m.gate(ctx, holder); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.holder == holder && m.epoch == epoch {
		m.expires = time.Now()
		m.expiry[epoch] = m.expires
	}
	return nil
}

func (m *memLease) set(which map[string]bool, holder string, v bool) {
	m.mu.Lock()
	which[holder] = v
	m.mu.Unlock()
}

func (m *memLease) deadline(epoch int64) time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.expiry[epoch]
}

// termLog records what each replica's Lead saw.
type termLog struct {
	mu    sync.Mutex
	terms []*termRec
}

type termRec struct {
	holder string
	term   *fence.Term
	start  time.Time
	ended  time.Time // when Lead's context ended
}

func (l *termLog) lead(holder string) func(context.Context, *fence.Term) {
	return func(ctx context.Context, t *fence.Term) {
		r := &termRec{holder: holder, term: t, start: time.Now()}
		l.mu.Lock()
		l.terms = append(l.terms, r)
		l.mu.Unlock()
		<-ctx.Done()
		l.mu.Lock()
		r.ended = time.Now()
		l.mu.Unlock()
	}
}

func (l *termLog) snapshot() []termRec {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]termRec, len(l.terms))
	for i, r := range l.terms {
		out[i] = *r
	}
	return out
}

func (l *termLog) current() (termRec, bool) {
	for _, r := range l.snapshot() {
		if r.ended.IsZero() {
			return r, true
		}
	}
	return termRec{}, false
}

// running waits for a term's work to have started (Leading turns true
// just before) and returns it.
func (l *termLog) running(t *testing.T) termRec {
	t.Helper()
	var r termRec
	testutil.Eventually(t, "a term's work runs", 5*time.Second, func() bool {
		var ok bool
		r, ok = l.current()
		return ok
	})
	return r
}

const testLease = 600 * time.Millisecond

func startElector(t *testing.T, b Backend, holder string, log *termLog) (*Elector, context.CancelFunc, <-chan struct{}) {
	t.Helper()
	e, err := New(Options{Backend: b, Holder: holder, Lease: testLease, Lead: log.lead(holder)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return e, cancel, done
}

// A leader whose renewals hang must stop acting (its Lead's context ends,
// its term refuses) before the database lets anyone else take over; the
// next leader has a higher epoch.
func TestLeaderStepsDownBeforeItsLeaseExpires(t *testing.T) {
	for _, mode := range []string{"hang", "cut"} {
		t.Run(mode, func(t *testing.T) {
			m, log := newMemLease(), &termLog{}
			a, _, _ := startElector(t, m, "a", log)
			testutil.Eventually(t, "a leads", 5*time.Second, a.Leading)
			b, _, _ := startElector(t, m, "b", log)
			first := log.running(t)
			which := m.hang
			if mode == "cut" {
				which = m.cut
			}
			m.set(which, "a", true)
			testutil.Eventually(t, "b takes over", 5*time.Second, b.Leading)
			terms := log.snapshot()
			var old, next termRec
			for _, r := range terms {
				if r.term.Epoch == first.term.Epoch {
					old = r
				}
				if r.holder == "b" {
					next = r
				}
			}
			if old.ended.IsZero() {
				t.Fatal("a never stopped acting")
			}
			// The term refuses from Until on (its work is cancelled then too,
			// and notices as soon as it is scheduled).
			if dl := m.deadline(old.term.Epoch); !old.term.Until().Before(dl) {
				t.Errorf("a's term could act until %s, after its lease ended at %s", old.term.Until().Format("15:04:05.000"), dl.Format("15:04:05.000"))
			}
			if err := old.term.Valid(time.Now()); !errors.Is(err, fence.ErrFenced) {
				t.Errorf("a's old term still valid: %v", err)
			}
			if next.term.Epoch <= old.term.Epoch {
				t.Errorf("new epoch %d not above old %d", next.term.Epoch, old.term.Epoch)
			}
			if a.Leading() {
				t.Error("a still reports leading")
			}
		})
	}
}

// Three replicas, the leader's network repeatedly broken and mended: at no
// sampled moment may two terms be valid at once, and epochs only grow.
func TestNeverTwoValidTerms(t *testing.T) {
	m, log := newMemLease(), &termLog{}
	for _, h := range []string{"a", "b", "c"} {
		startElector(t, m, h, log)
	}
	var overlap atomic.Value
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stop:
				return
			default:
			}
			now := time.Now()
			var valid []int64
			for _, r := range log.snapshot() {
				if r.term.Valid(now) == nil {
					valid = append(valid, r.term.Epoch)
				}
			}
			if len(valid) > 1 {
				overlap.Store(fmt.Sprint(valid))
			}
			time.Sleep(time.Millisecond)
		}
	}()
	for round := 0; round < 4; round++ {
		cur, ok := log.current()
		testutil.Eventually(t, "someone leads", 5*time.Second, func() bool { cur, ok = log.current(); return ok })
		m.set(m.cut, cur.holder, true)
		testutil.Eventually(t, "another leads", 5*time.Second, func() bool {
			n, ok := log.current()
			return ok && n.holder != cur.holder
		})
		m.set(m.cut, cur.holder, false)
	}
	close(stop)
	<-sampled
	if v := overlap.Load(); v != nil {
		t.Fatalf("two terms valid at once: epochs %v", v)
	}
	var last int64
	for _, r := range log.snapshot() {
		if r.term.Epoch <= last {
			t.Fatalf("epoch %d after %d", r.term.Epoch, last)
		}
		last = r.term.Epoch
	}
	if last < 5 {
		t.Fatalf("only %d terms", last)
	}
}

// A leader that stops cleanly releases its lease, so a follower takes over
// long before the lease would have run out.
func TestCleanStopHandsOverAtOnce(t *testing.T) {
	m, log := newMemLease(), &termLog{}
	a, stopA, doneA := startElector(t, m, "a", log)
	testutil.Eventually(t, "a leads", 5*time.Second, a.Leading)
	b, _, _ := startElector(t, m, "b", log)
	stopA()
	<-doneA
	stopped := time.Now()
	testutil.Eventually(t, "b leads", 5*time.Second, b.Leading)
	// b waits at most renewEvery between attempts; a lease that was not
	// released would keep it out for up to the whole lease.
	if d := time.Since(stopped); d >= testLease*2/3 {
		t.Errorf("takeover after a clean stop took %s", d)
	}
}

// A renewal refused (another replica holds the lease) ends the term at
// once, without waiting for the local deadline.
func TestLostLeaseEndsTermAtOnce(t *testing.T) {
	m, log := newMemLease(), &termLog{}
	a, _, _ := startElector(t, m, "a", log)
	testutil.Eventually(t, "a leads", 5*time.Second, a.Leading)
	cur := log.running(t)
	m.mu.Lock()
	m.holder, m.epoch = "intruder", m.epoch+1 // an operator's manual takeover
	m.mu.Unlock()
	testutil.Eventually(t, "a steps down", 5*time.Second, func() bool { return !a.Leading() })
	r := log.snapshot()[0]
	if r.ended.IsZero() {
		t.Fatal("Lead still running")
	}
	if !r.ended.Before(cur.term.Until()) {
		t.Errorf("a acted until its local deadline instead of stopping when the renewal was refused")
	}
}

func TestLeaseBounds(t *testing.T) {
	for _, d := range []time.Duration{0, minTestLease - 1, MaxLease + 1} {
		if _, err := New(Options{Lease: d}); err == nil {
			t.Errorf("lease %s accepted", d)
		}
	}
	tm, err := newTiming(DefaultLease)
	if err != nil {
		t.Fatal(err)
	}
	if DefaultLease > 15*time.Second {
		t.Errorf("default lease %s over 15 s", DefaultLease)
	}
	// Two renewals may fail before the leader must stop acting.
	if s := time.Unix(0, 0); !tm.nextRenew(tm.nextRenew(s, false), false).Before(tm.actUntil(s)) {
		t.Error("fewer than two renewals fit before the step-down")
	}
	if tm.margin <= 0 || tm.actUntil(time.Unix(0, 0)).Sub(time.Unix(0, 0)) >= tm.lease {
		t.Error("no margin before the lease ends")
	}
}
