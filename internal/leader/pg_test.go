package leader

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/leader/fence"
	"github.com/paddock-ci/paddock/internal/secretbox"
	"github.com/paddock-ci/paddock/internal/store"
	"github.com/paddock-ci/paddock/internal/store/postgres"
	"github.com/paddock-ci/paddock/internal/testutil"
	"github.com/paddock-ci/paddock/internal/testutil/cutproxy"
	"github.com/paddock-ci/paddock/internal/testutil/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// haDB is a fresh database with the HA tables (migration 0100).
func haDB(t *testing.T) (string, *pgxpool.Pool) {
	t.Helper()
	dsn := pgtest.DB(t)
	// The store's migrations make the tables, as in production.
	box, err := secretbox.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	st, err := postgres.Open(context.Background(), dsn, box)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return dsn, pool
}

func TestPGLease(t *testing.T) {
	_, pool := haDB(t)
	ctx := context.Background()
	b := NewPG(pool)
	const lease = 2 * time.Second
	ep, ok, _, err := b.TryAcquire(ctx, "a", lease)
	if err != nil || !ok || ep != 1 {
		t.Fatalf("first acquire: epoch %d ok %v err %v", ep, ok, err)
	}
	_, ok, rem, err := b.TryAcquire(ctx, "b", lease)
	if err != nil || ok || rem <= lease/2 || rem > lease {
		t.Fatalf("b acquired a held lease: ok %v remaining %s err %v", ok, rem, err)
	}
	if ok, err := b.Renew(ctx, "a", 1, lease); !ok || err != nil {
		t.Fatalf("renew: %v %v", ok, err)
	}
	if ok, _ := b.Renew(ctx, "b", 1, lease); ok {
		t.Fatal("b renewed a's lease")
	}
	if err := b.Release(ctx, "a", 1); err != nil {
		t.Fatal(err)
	}
	ep, ok, _, err = b.TryAcquire(ctx, "b", lease)
	if err != nil || !ok || ep != 2 {
		t.Fatalf("acquire after release: epoch %d ok %v err %v", ep, ok, err)
	}
	if ok, _ := b.Renew(ctx, "a", 1, lease); ok {
		t.Fatal("a renewed after b took over")
	}
	// Expiry by the database's clock.
	if _, err := pool.Exec(ctx, `UPDATE paddock_leader SET expires_at = now() - interval '1 second'`); err != nil {
		t.Fatal(err)
	}
	if ok, _ := b.Renew(ctx, "b", 2, lease); ok {
		t.Fatal("an expired lease was renewed")
	}
	if ep, ok, _, _ := b.TryAcquire(ctx, "b", lease); !ok || ep != 3 {
		t.Fatalf("re-acquire after expiry: epoch %d ok %v (want a new epoch)", ep, ok)
	}
}

// A write transaction of a term holds the lease row FOR SHARE: a takeover
// waits for it to commit, and every later transaction of the old term is
// refused.
func TestPGFenceCheck(t *testing.T) {
	_, pool := haDB(t)
	ctx := context.Background()
	b := NewPG(pool)
	ep, _, _, err := b.TryAcquire(ctx, "a", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	old := fence.NewTerm(ep, time.Now().Add(time.Hour))
	octx := fence.With(ctx, old)
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := fence.Check(octx, tx); err != nil {
		t.Fatalf("current term refused: %v", err)
	}
	_ = tx.Rollback(ctx)
	if _, err := pool.Exec(ctx, `UPDATE paddock_leader SET expires_at = now()`); err != nil {
		t.Fatal(err)
	}
	took := make(chan int64, 1)
	tx, _ = pool.Begin(ctx)
	if err := fence.Check(octx, tx); !errors.Is(err, fence.ErrFenced) {
		t.Fatalf("expired term accepted: %v", err)
	}
	_ = tx.Rollback(ctx)

	// Now a live term with a transaction open while another replica takes over.
	if _, err := pool.Exec(ctx, `UPDATE paddock_leader SET expires_at = now() + interval '1 hour'`); err != nil {
		t.Fatal(err)
	}
	tx, _ = pool.Begin(ctx)
	t.Cleanup(func() { _ = tx.Rollback(ctx) }) // a failing test must not leave the pool busy
	if err := fence.Check(octx, tx); err != nil {
		t.Fatalf("live term refused: %v", err)
	}
	go func() {
		// Force the takeover an expiry would allow, as b's TryAcquire does.
		var e int64
		err := pool.QueryRow(ctx, `UPDATE paddock_leader SET holder = 'b', epoch = epoch + 1 RETURNING epoch`).Scan(&e)
		if err != nil {
			e = -1
		}
		took <- e
	}()
	// The takeover must be seen waiting for the row lock, not done.
	testutil.Eventually(t, "takeover waits for the fenced transaction", 10*time.Second, func() bool {
		select {
		case e := <-took:
			t.Fatalf("takeover (epoch %d) committed while a fenced transaction was open", e)
		default:
		}
		var n int
		_ = pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'
			AND query LIKE 'UPDATE paddock_leader SET holder%'`).Scan(&n)
		return n == 1
	})
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if e := <-took; e != ep+1 {
		t.Fatalf("takeover: epoch %d", e)
	}
	tx, _ = pool.Begin(ctx)
	defer tx.Rollback(ctx)
	if err := fence.Check(octx, tx); !errors.Is(err, fence.ErrFenced) {
		t.Fatalf("deposed term accepted after the takeover: %v", err)
	}
	if err := fence.Check(ctx, tx); err != nil {
		t.Fatalf("unfenced context refused: %v", err)
	}
}

func startNode(t *testing.T, dsn, id string, log *termLog, msgs chan<- string) *Node {
	t.Helper()
	n, err := Open(context.Background(), NodeOptions{DSN: dsn, Lease: time.Second, ID: id, Name: id, URL: "http://" + id,
		Version: "test", Lead: log.lead(id), OnMessage: func(m string) {
			if msgs != nil {
				select {
				case msgs <- id + ":" + m:
				default:
				}
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; n.Close() })
	return n
}

// Two replicas on a real database: one leads, a follower's Wake reaches
// the leader through NOTIFY, both show in the replicas table, and cutting
// the leader's connection makes it stop acting before its lease ends and
// the other take over.
func TestPGNodesPartitionAndBus(t *testing.T) {
	dsn, pool := haDB(t)
	cfg, _ := pgx.ParseConfig(dsn)
	proxy := cutproxy.Start(t, cfg.Host+":"+itoa(int(cfg.Port)))
	viaProxy := strings.Replace(dsn, cfg.Host+":"+itoa(int(cfg.Port)), proxy.Addr, 1)
	log := &termLog{}
	msgs := make(chan string, 16)
	a := startNode(t, viaProxy, "a", log, msgs)
	testutil.Eventually(t, "a leads", 10*time.Second, a.Elector.Leading)
	b := startNode(t, dsn, "b", log, msgs)
	testutil.Eventually(t, "both replicas listed", 10*time.Second, func() bool {
		rs, err := b.Replicas(context.Background())
		return err == nil && len(rs) == 2 && rs[0].Role == Leader && rs[1].Role == Follower
	})
	// The bus: b wakes, a hears it (b hears its own too: it ignores it).
	testutil.Eventually(t, "a hears b's wake", 10*time.Second, func() bool {
		b.Bus.Wake()
		for {
			select {
			case m := <-msgs:
				if m == "a:wake" {
					return true
				}
			default:
				return false
			}
		}
	})
	first := log.running(t)
	proxy.Cut()
	testutil.Eventually(t, "b takes over", 10*time.Second, b.Elector.Leading)
	var old termRec
	for _, r := range log.snapshot() {
		if r.term.Epoch == first.term.Epoch {
			old = r
		}
	}
	var dbExpiry time.Time
	if err := pool.QueryRow(context.Background(), `SELECT acquired_at FROM paddock_leader`).Scan(&dbExpiry); err != nil {
		t.Fatal(err)
	}
	// b acquired only after a's lease expired by the database's clock; a's
	// term must have stopped being allowed to act (fence) before b started
	// (same host: one clock), and a's leader work must have been stopped.
	if old.ended.IsZero() || !old.term.Until().Before(dbExpiry) {
		t.Fatalf("a's term could act until %v (work stopped at %v), b took over at %v", old.term.Until(), old.ended, dbExpiry)
	}
	if _, e := b.Elector.Status(); e != first.term.Epoch+1 {
		t.Fatalf("b's epoch %d, want %d", e, first.term.Epoch+1)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// The network between the leader and the database goes silent while the
// leader has a fenced write transaction open (it holds the lease row FOR
// SHARE): the server must abort that transaction, or no follower could
// ever take over.
func TestPGSilentPartitionMidTransaction(t *testing.T) {
	dsn, _ := haDB(t)
	cfg, _ := pgx.ParseConfig(dsn)
	hostPort := cfg.Host + ":" + itoa(int(cfg.Port))
	proxy := cutproxy.Start(t, hostPort)
	viaProxy := strings.Replace(dsn, hostPort, proxy.Addr, 1)
	log := &termLog{}
	a := startNode(t, viaProxy, "a", log, nil)
	testutil.Eventually(t, "a leads", 10*time.Second, a.Elector.Leading)
	cur := log.running(t)
	conn, err := pgx.Connect(context.Background(), viaProxy)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		conn.Close(ctx)
	})
	tx, err := conn.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := fence.Check(fence.With(context.Background(), cur.term), tx); err != nil {
		t.Fatal(err)
	}
	proxy.Drop()
	b := startNode(t, dsn, "b", log, nil)
	testutil.Eventually(t, "b takes over", 15*time.Second, b.Elector.Leading)
}

// The PostgreSQL store refuses a write whose context carries a deposed
// term, and writes nothing; the same write without a term, or with the
// current term, goes through.
func TestPGStoreRefusesDeposedLeader(t *testing.T) {
	dsn, pool := haDB(t)
	ctx := context.Background()
	box, _ := secretbox.New(bytes.Repeat([]byte{7}, 32))
	st, err := postgres.Open(ctx, dsn, box)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	b := NewPG(pool)
	ep, _, _, err := b.TryAcquire(ctx, "a", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	old := fence.With(ctx, fence.NewTerm(ep, time.Now().Add(time.Hour)))
	if err := st.CreateForge(old, &core.Forge{Name: "one", Kind: core.ForgeGitHub}); err != nil {
		t.Fatalf("write of the current term: %v", err)
	}
	// Another replica takes over (the lease expired).
	if _, err := pool.Exec(ctx, `UPDATE paddock_leader SET expires_at = now()`); err != nil {
		t.Fatal(err)
	}
	if _, ok, _, err := b.TryAcquire(ctx, "b", time.Minute); !ok || err != nil {
		t.Fatalf("takeover: %v %v", ok, err)
	}
	err = st.CreateForge(old, &core.Forge{Name: "two", Kind: core.ForgeGitHub})
	if !errors.Is(err, fence.ErrFenced) {
		t.Fatalf("deposed leader's write: %v, want ErrFenced", err)
	}
	if _, err := st.GetForge(ctx, "two"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the refused write left a forge: %v", err)
	}
	if err := st.CreateForge(ctx, &core.Forge{Name: "three", Kind: core.ForgeGitHub}); err != nil {
		t.Fatalf("unfenced write (a webhook on any replica): %v", err)
	}
}
