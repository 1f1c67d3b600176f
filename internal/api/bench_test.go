package api

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/metrics"
	"github.com/paddock-ci/paddock/internal/secretbox"
	"github.com/paddock-ci/paddock/internal/store/sqlite"
)

const benchJobs = 300_000

// benchServer serves a file-backed store holding benchJobs jobs of one
// entity. The jobs are written with one bulk INSERT transaction straight into
// the jobs table (through the same driver) because 300,000 UpsertJob
// transactions would take minutes; the rows are what UpsertJob would write.
func benchServer(b *testing.B) *httptest.Server {
	b.Helper()
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "paddock.db")
	box, err := secretbox.New(bytes.Repeat([]byte{7}, secretbox.KeySize))
	if err != nil {
		b.Fatal(err)
	}
	st, err := sqlite.Open(ctx, path, box)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	f := core.Forge{Name: "gh", Kind: core.ForgeGitHub, APIURL: "https://api.github.com/", WebURL: "https://github.com/",
		Credential: core.Credential{Kind: core.CredentialPAT, Token: "t"}}
	if err := st.CreateForge(ctx, &f); err != nil {
		b.Fatal(err)
	}
	e := core.Entity{ForgeID: f.ID, Kind: core.EntityRepository, Name: "acme/app", Intake: core.IntakeWebhook}
	if err := st.CreateEntity(ctx, &e); err != nil {
		b.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		b.Fatal(err)
	}
	ins, err := tx.Prepare("INSERT INTO jobs (entity_id, id, state, received_at, updated_at, data) VALUES (?, ?, ?, ?, ?, ?)")
	if err != nil {
		b.Fatal(err)
	}
	base := time.Now().Add(-30 * 24 * time.Hour).UTC()
	for id := int64(1); id <= benchJobs; id++ {
		t := base.Add(time.Duration(id) * time.Second)
		j := core.Job{ID: id, EntityID: e.ID, RunID: id, RunAttempt: 1, Repository: "acme/app", Name: "build",
			Workflow: "ci", Labels: []string{"self-hosted", "linux", "x64"}, State: core.JobCompleted, Conclusion: "success",
			RunnerName: fmt.Sprintf("paddock-%d", id), QueuedAt: t, ReceivedAt: t, StartedAt: t, CompletedAt: t, UpdatedAt: t}
		data, _ := json.Marshal(j)
		if _, err := ins.Exec(e.ID, id, string(j.State), t.UnixNano(), t.UnixNano(), string(data)); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(New(Options{Store: st, Metrics: metrics.New(), AdminToken: testToken,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	b.Cleanup(srv.Close)
	return srv
}

func benchGet(b *testing.B, srv *httptest.Server, path string) {
	req, _ := http.NewRequest("GET", srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := srv.Client().Do(req)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Fatalf("GET %s: %d", path, resp.StatusCode)
	}
}

// BenchmarkGetJob300k: GET /api/v1/jobs/{id} with 300,000 jobs stored.
func BenchmarkGetJob300k(b *testing.B) {
	srv := benchServer(b)
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		benchGet(b, srv, fmt.Sprintf("/api/v1/jobs/%d", 1+n*7919%benchJobs))
	}
}

// BenchmarkListJobs300k: GET /api/v1/jobs with no parameters (one page now;
// before paging, every job) with 300,000 jobs stored.
func BenchmarkListJobs300k(b *testing.B) {
	srv := benchServer(b)
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		benchGet(b, srv, "/api/v1/jobs")
	}
}
