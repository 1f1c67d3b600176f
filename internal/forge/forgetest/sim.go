package forgetest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/testutil"
)

// SimForge describes one flavour of the simulator and the adapter under test.
type SimForge struct {
	Flavor  string // forgesim.FlavorGitHub, FlavorGitea or FlavorForgejo
	Version string // what a Gitea/Forgejo sim reports; "" = its default
	Kind    core.ForgeKind
	// APIPath is appended to the sim's root for core.Forge.APIURL ("api/v1/" for Gitea).
	APIPath string
	// RunnerAPI and JobListing are what this flavour and version offer.
	RunnerAPI, JobListing bool
	RunnerAPIMissing      bool // see Target.RunnerAPIMissing
	// Prepare, if set, adjusts the started sim (faults, missing endpoints).
	Prepare func(*forgesim.Sim)
	// New builds the adapter's client for f.
	New func(t *testing.T, f core.Forge) forge.Client
	// Parse is the adapter's workflow_job webhook parser; nil for a forge
	// that sends none (Forgejo).
	Parse func(h http.Header, body []byte) (forge.JobEvent, error)
}

const simRepo = "forgetest/app"

// Setup starts a fresh sim with a webhook receiver for each case.
func (s SimForge) Setup(t *testing.T) Target {
	t.Helper()
	sink := &hookSink{}
	srv := httptest.NewServer(sink)
	t.Cleanup(srv.Close)
	sim := forgesim.New(forgesim.Options{Flavor: s.Flavor, ForgeVersion: s.Version, WebhookURL: srv.URL,
		WebhookSecret: "forgetest-secret", LongPoll: 300 * time.Millisecond, Logf: t.Logf})
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	if s.Prepare != nil {
		s.Prepare(sim)
	}
	f := core.Forge{Name: "sim", Kind: s.Kind, APIURL: sim.URL() + s.APIPath, WebURL: sim.URL(),
		Credential: core.Credential{Kind: core.CredentialPAT, Token: "forgetest-token"}}
	tg := Target{
		Kind: s.Kind, Client: s.New(t, f),
		Entity: core.Entity{Kind: core.EntityRepository, Name: simRepo}, Prefix: "forgetest",
		Labels: []string{"linux", "x64"}, RunnerAPI: s.RunnerAPI, JobListing: s.JobListing,
		RunnerAPIMissing: s.RunnerAPIMissing,
		QueueJob: func(t *testing.T, labels []string) int64 {
			t.Helper()
			j, err := sim.QueueJob(forgesim.JobSpec{Repo: simRepo, Labels: labels})
			if err != nil {
				t.Fatal(err)
			}
			return j.ID
		},
		FailWith: func(t *testing.T, status int) {
			t.Helper()
			var f forgesim.Faults
			switch status {
			case 500:
				f.ErrorRate = 1
			case 429:
				f.RateLimitRate, f.RetryAfter = 1, retryAfterSeconds*time.Second
			}
			if err := sim.SetFaults(f); err != nil {
				t.Fatal(err)
			}
		},
	}
	if s.Parse != nil {
		tg.ParseWebhook = s.Parse
		tg.Webhook = sink.wait
	}
	return tg
}

// hookSink records webhook deliveries.
type hookSink struct {
	mu  sync.Mutex
	got []delivery
}

type delivery struct {
	header http.Header
	body   []byte
}

func (h *hookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	h.got = append(h.got, delivery{r.Header.Clone(), b})
	h.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// wait returns the delivery of action for job id once it has arrived.
func (h *hookSink) wait(t *testing.T, id int64, action string) (http.Header, []byte) {
	t.Helper()
	var found *delivery
	testutil.Eventually(t, "the "+action+" webhook of the job", 10*time.Second, func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		for i, d := range h.got {
			var p struct {
				Action string `json:"action"`
				Job    struct {
					ID int64 `json:"id"`
				} `json:"workflow_job"`
			}
			if json.Unmarshal(d.body, &p) == nil && p.Action == action && p.Job.ID == id {
				found = &h.got[i]
				return true
			}
		}
		return false
	})
	return found.header, found.body
}
