package app_test

import (
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/testutil/pgtest"
)

// BenchmarkSustainedWebhooks pushes b.N signed workflow_job webhooks over
// HTTP (32 senders) through a whole manager on each store driver and reports
// sustained webhooks/s: from the first send until the provider has been
// asked for every job's machine (webhook accepted, job and intent written,
// scheduled, instance created). Run with -benchtime=2000x or more.
//
// sqlite runs as shipped (WAL, synchronous=NORMAL: no fsync per commit);
// postgres on the test harness's server (fsync and synchronous_commit off);
// postgres-durable on a server with PostgreSQL's default, fsync-per-commit
// settings, as a production database would run.
func BenchmarkSustainedWebhooks(b *testing.B) {
	for _, driver := range []string{"sqlite", "postgres", "postgres-durable"} {
		b.Run(driver, func(b *testing.B) {
			var storeYAML string
			switch driver {
			case "sqlite":
				storeYAML = sqliteStore(b.TempDir(), keyA)
			case "postgres":
				storeYAML = postgresStore(b, pgtest.DB(b), keyA)
			default:
				storeYAML = postgresStore(b, pgtest.Start(b, pgtest.Durable...).DB(b), keyA)
			}
			prov := &countingProvider{ch: make(chan struct{}, b.N+16)}
			a, err := newManager(b, storeYAML, prov)
			if err != nil {
				b.Fatal(err)
			}
			run(b, a)
			b.ResetTimer()
			start := time.Now()
			if f := sendWebhooks(b, a.URL(), 1, int64(b.N)+1, 32); f != 0 {
				b.Fatalf("%d of %d webhooks refused", f, b.N)
			}
			waitCreates(b, prov, b.N)
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "webhooks/s")
		})
	}
}
