package gitea_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
	"github.com/paddock-ci/paddock/internal/forge/gitea"
	"github.com/paddock-ci/paddock/internal/forgesim"
)

const pat = "gitea_PAT_must_never_reach_a_machine"

var repo = core.Entity{Kind: core.EntityRepository, Name: "acme/app"}

func startSim(t *testing.T, flavor, version string) *forgesim.Sim {
	t.Helper()
	sim := forgesim.New(forgesim.Options{Flavor: flavor, ForgeVersion: version, LongPoll: 300 * time.Millisecond})
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	return sim
}

func forgeFor(sim *forgesim.Sim, kind core.ForgeKind) core.Forge {
	return core.Forge{Name: "sim", Kind: kind, APIURL: sim.URL() + "api/v1/", WebURL: sim.URL(),
		Credential: core.Credential{Kind: core.CredentialPAT, Token: pat}}
}

func newClient(t *testing.T, sim *forgesim.Sim, kind core.ForgeKind) *gitea.Client {
	t.Helper()
	c, err := gitea.New(context.Background(), forgeFor(sim, kind), gitea.Options{MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestOldGiteaIsRefusedNamingTheVersion(t *testing.T) {
	sim := startSim(t, forgesim.FlavorGitea, "1.23.8")
	_, err := gitea.New(context.Background(), forgeFor(sim, core.ForgeGitea), gitea.Options{})
	if !errors.Is(err, gitea.ErrTooOld) || !strings.Contains(err.Error(), "1.23.8") || !strings.Contains(err.Error(), "1.24") {
		t.Fatalf("err = %v; want ErrTooOld naming 1.23.8 and 1.24", err)
	}
}

func TestForgejoConfiguredAsGiteaIsCaught(t *testing.T) {
	sim := startSim(t, forgesim.FlavorForgejo, "")
	_, err := gitea.New(context.Background(), forgeFor(sim, core.ForgeGitea), gitea.Options{})
	if err == nil || !strings.Contains(err.Error(), "kind: forgejo") {
		t.Fatalf("err = %v; want a hint to set kind: forgejo", err)
	}
}

func TestParseVersion(t *testing.T) {
	for in, want := range map[string]gitea.Version{
		"1.24.3": {1, 24, 3}, "1.25.0+dev-12-gabc": {1, 25, 0}, "1.24.0-rc0": {1, 24, 0},
		"11.0.3+gitea-1.22.0": {11, 0, 3}, "v1.26": {1, 26, 0},
	} {
		got, _, err := gitea.ParseVersion(in)
		if err != nil || got != want {
			t.Errorf("ParseVersion(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, _, err := gitea.ParseVersion("dev"); err == nil {
		t.Error("ParseVersion(dev) accepted")
	}
}

// register mints one runner and decodes the .runner it would hand a machine.
func register(t *testing.T, c *gitea.Client, name string) (forge.JITConfig, gitea.RunnerFile) {
	t.Helper()
	jit, err := c.JITConfig(context.Background(), repo, forge.JITRequest{Name: name, Labels: []string{"linux", "x64"}})
	if err != nil {
		t.Fatal(err)
	}
	rf, err := gitea.DecodeRunnerFile(jit.Encoded)
	if err != nil {
		t.Fatal(err)
	}
	return jit, rf
}

func TestRegistrationHandsOutRunnerCredentialsOnly(t *testing.T) {
	sim := startSim(t, forgesim.FlavorGitea, "")
	c := newClient(t, sim, core.ForgeGitea)
	jit1, rf := register(t, c, "pool-a-1")
	register(t, c, "pool-a-2")

	if rf.UUID == "" || rf.Token == "" || rf.Address != strings.TrimSuffix(sim.URL(), "/") || rf.ID != jit1.RunnerID {
		t.Fatalf(".runner = %+v", rf)
	}
	if strings.Join(rf.Labels, ",") != "linux:host,x64:host" || !rf.Ephemeral {
		t.Fatalf("labels %v ephemeral %v; want host labels and an ephemeral runner", rf.Labels, rf.Ephemeral)
	}
	for _, tok := range sim.RegistrationTokens() {
		if strings.Contains(jit1.Encoded, tok) || rf.Token == tok {
			t.Fatal("the registration token is inside what a machine receives")
		}
	}
	st := sim.Stats()
	// The reusable token is fetched once and kept on the manager.
	if n := st.Calls("POST /api/v1/repos/{owner}/{repo}/actions/runners/registration-token"); n != 1 {
		t.Fatalf("registration token fetched %d times for two runners; want 1", n)
	}
	if n := st.Calls("POST /api/actions/runner.v1.RunnerService/Register"); n != 2 {
		t.Fatalf("Register called %d times; want 2", n)
	}
	runners := sim.Runners()
	if len(runners) != 2 || !runners[0].Ephemeral || runners[0].Scope != "repo:acme/app" {
		t.Fatalf("sim runners = %+v", runners)
	}
}

// After "Reset registration token" in the web UI, Gitea answers Register
// with HTTP 500 and Forgejo with 400, both saying the token "has been
// invalidated": the cached token is dropped and a fresh one fetched.
func TestResetRegistrationTokenIsRecognisedOnEveryFlavor(t *testing.T) {
	for _, fl := range []struct {
		sim  string
		kind core.ForgeKind
	}{{forgesim.FlavorGitea, core.ForgeGitea}, {forgesim.FlavorForgejo, core.ForgeForgejo}} {
		sim := startSim(t, fl.sim, "")
		c := newClient(t, sim, fl.kind)
		register(t, c, "before-reset")
		sim.RevokeRegistrationToken("repo:acme/app")
		register(t, c, "after-reset")
		if n := len(sim.RegistrationTokens()); n != 2 {
			t.Fatalf("%s: %d registration tokens issued; want 2", fl.sim, n)
		}
	}
}

func TestRevokedRegistrationTokenFailsClearlyThenRecovers(t *testing.T) {
	sim := startSim(t, forgesim.FlavorGitea, "")
	c := newClient(t, sim, core.ForgeGitea)
	register(t, c, "r-1")

	// Revoked, and the forge cannot hand out a new one right now: the
	// registration fails and says why.
	if !sim.RevokeRegistrationToken("repo:acme/app") {
		t.Fatal("nothing to revoke")
	}
	sim.FailNext("POST /api/v1/repos/{owner}/{repo}/actions/runners/registration-token", http.StatusInternalServerError, 1)
	_, err := c.JITConfig(context.Background(), repo, forge.JITRequest{Name: "r-2", Labels: []string{"linux"}})
	if err == nil || !strings.Contains(err.Error(), "revoked") || !strings.Contains(err.Error(), "500") {
		t.Fatalf("err = %v; want a clear revoked-token error", err)
	}
	// Next attempt: a fresh token is fetched and registration works again.
	_, rf := register(t, c, "r-2")
	if rf.Token == "" {
		t.Fatal("no runner token after recovery")
	}
	// Revoked again with the forge healthy: the client recovers on its own.
	sim.RevokeRegistrationToken("repo:acme/app")
	register(t, c, "r-3")
	if n := len(sim.RegistrationTokens()); n != 3 {
		t.Fatalf("%d registration tokens issued; want 3 (one per revocation)", n)
	}
}

// fetchTask plays the runner: FetchTask with the .runner credentials.
func fetchTask(t *testing.T, rf gitea.RunnerFile) []byte {
	t.Helper()
	code, b, err := forgesim.FetchTask(context.Background(), rf.Address, rf.UUID, rf.Token)
	if err != nil {
		t.Fatal(err)
	}
	if code != http.StatusOK {
		t.Fatalf("FetchTask: %d %s", code, b)
	}
	return b
}

func TestRunnerListingAndBusyAwareDeletion(t *testing.T) {
	sim := startSim(t, forgesim.FlavorGitea, "1.25.2")
	c := newClient(t, sim, core.ForgeGitea)
	ctx := context.Background()
	busy, rfBusy := register(t, c, "busy-1")
	idle, _ := register(t, c, "idle-1")
	if _, err := sim.QueueJob(forgesim.JobSpec{Repo: "acme/app", Labels: []string{"linux"}, Duration: time.Hour}); err != nil {
		t.Fatal(err)
	}
	var task struct {
		Task struct{ ID string } `json:"task"`
	}
	if err := json.Unmarshal(fetchTask(t, rfBusy), &task); err != nil || task.Task.ID == "" {
		t.Fatalf("no task handed out: %v", err)
	}
	runners, err := c.ListRunners(ctx, repo)
	if err != nil || len(runners) != 2 {
		t.Fatalf("ListRunners = %+v, %v", runners, err)
	}
	if !runners[0].Busy || runners[0].Name != "busy-1" || runners[1].Busy {
		t.Fatalf("runners = %+v; want busy-1 busy, idle-1 idle", runners)
	}
	if err := c.DeleteRunner(ctx, repo, busy.RunnerID); !errors.Is(err, forge.ErrRunnerBusy) {
		t.Fatalf("deleting a busy runner: %v; want ErrRunnerBusy (Gitea itself would delete it)", err)
	}
	if err := c.DeleteRunner(ctx, repo, idle.RunnerID); err != nil {
		t.Fatal(err)
	}
	if rs := sim.Runners(); len(rs) != 1 || rs[0].Name != "busy-1" {
		t.Fatalf("sim runners after delete = %+v", rs)
	}
}

// Gitea 1.24 has the runner API (list/get/delete) but no queued-job
// listing; 1.25 has both. Paddock's gates were a release late. The
// conformance suite (TestConformance/Gitea1.24 and Gitea1.25) holds each
// version to that; here, that the refusal names the version needed.
func TestGiteaVersionGates(t *testing.T) {
	sim := startSim(t, forgesim.FlavorGitea, "1.24.6")
	c := newClient(t, sim, core.ForgeGitea)
	if _, err := c.ListQueuedJobs(context.Background(), repo); !errors.Is(err, errors.ErrUnsupported) || !strings.Contains(err.Error(), "1.25") {
		t.Fatalf("ListQueuedJobs on 1.24: %v; want ErrUnsupported naming 1.25 (never an empty list)", err)
	}
}

func TestQueuedJobListing(t *testing.T) {
	ctx := context.Background()
	sim := startSim(t, forgesim.FlavorGitea, "")
	c := newClient(t, sim, core.ForgeGitea)
	j, _ := sim.QueueJob(forgesim.JobSpec{Repo: "acme/app", Labels: []string{"linux", "x64"}})
	_, _ = sim.QueueJob(forgesim.JobSpec{Repo: "other/app", Labels: []string{"linux"}})
	jobs, err := c.ListQueuedJobs(ctx, repo)
	if err != nil || len(jobs) != 1 || jobs[0].ID != j.ID || jobs[0].Repository != "acme/app" ||
		strings.Join(jobs[0].Labels, ",") != "linux,x64" {
		t.Fatalf("ListQueuedJobs = %+v, %v", jobs, err)
	}

	fsim := startSim(t, forgesim.FlavorForgejo, "")
	fc := newClient(t, fsim, core.ForgeForgejo)
	fj, _ := fsim.QueueJob(forgesim.JobSpec{Repo: "acme/app", Labels: []string{"docker"}})
	if _, err := fc.ListQueuedJobs(ctx, repo); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("Forgejo ListQueuedJobs without labels: %v; want ErrUnsupported", err)
	}
	jobs, err = fc.ListQueuedJobsFor(ctx, repo, []string{"docker", "linux"})
	if err != nil || len(jobs) != 1 || jobs[0].ID != fj.ID {
		t.Fatalf("Forgejo ListQueuedJobsFor = %+v, %v", jobs, err)
	}
	if jobs, _ := fc.ListQueuedJobsFor(ctx, repo, []string{"linux"}); len(jobs) != 0 {
		t.Fatalf("a runner without the docker label matched %+v", jobs)
	}
}

func TestForgejoRegistersWithoutEphemeralAndKeepsRunners(t *testing.T) {
	sim := startSim(t, forgesim.FlavorForgejo, "14.0.2+gitea-1.22.0")
	c := newClient(t, sim, core.ForgeForgejo)
	jit, rf := register(t, c, "fj-1")
	if caps := c.Capabilities(); rf.Ephemeral || caps.EphemeralRunners || caps.RunnerKind != gitea.RunnerKindForgejoRunner {
		t.Fatalf("forgejo: ephemeral %v capabilities %+v", rf.Ephemeral, caps)
	}
	if n := sim.Stats().Calls("GET /api/v1/repos/{owner}/{repo}/actions/runners/registration-token"); n != 1 {
		t.Fatalf("Forgejo token fetched with GET %d times; want 1", n)
	}
	// Forgejo 14 has no runner REST API: listing says so instead of
	// reading the 404 as "no runners", and deletion makes no call.
	if _, err := c.ListRunners(context.Background(), repo); !errors.Is(err, errors.ErrUnsupported) || !strings.Contains(err.Error(), "15.0") {
		t.Fatalf("ListRunners on Forgejo 14: %v; want ErrUnsupported naming 15.0", err)
	}
	calls := len(sim.Stats().APICalls)
	if err := c.DeleteRunner(context.Background(), repo, jit.RunnerID); err != nil || len(sim.Stats().APICalls) != calls {
		t.Fatalf("DeleteRunner on Forgejo 14: %v, %d calls; want nil and no call", err, len(sim.Stats().APICalls)-calls)
	}
}

// Forgejo 15 registers ephemeral runners and lists runners as a bare array
// with string labels and no busy flag.
func TestForgejo15ShapesAndEphemeral(t *testing.T) {
	ctx := context.Background()
	sim := startSim(t, forgesim.FlavorForgejo, "15.0.1+gitea-1.22.0")
	c := newClient(t, sim, core.ForgeForgejo)
	busy, rfBusy := register(t, c, "fj-busy")
	idle, _ := register(t, c, "fj-idle")
	if !rfBusy.Ephemeral || !c.Capabilities().EphemeralRunners {
		t.Fatalf("Forgejo 15: ephemeral %v capabilities %+v; want an ephemeral registration the forge removes", rfBusy.Ephemeral, c.Capabilities())
	}
	if _, err := sim.QueueJob(forgesim.JobSpec{Repo: "acme/app", Labels: []string{"linux"}, Duration: time.Hour}); err != nil {
		t.Fatal(err)
	}
	fetchTask(t, rfBusy)
	runners, err := c.ListRunners(ctx, repo)
	if err != nil || len(runners) != 2 {
		t.Fatalf("ListRunners = %+v, %v", runners, err)
	}
	if !runners[0].Busy || runners[1].Busy || strings.Join(runners[0].Labels, ",") != "linux,x64" {
		t.Fatalf("runners = %+v; want fj-busy busy with labels linux,x64", runners)
	}
	if err := c.DeleteRunner(ctx, repo, busy.RunnerID); !errors.Is(err, forge.ErrRunnerBusy) {
		t.Fatalf("deleting a busy runner: %v; want ErrRunnerBusy", err)
	}
	if err := c.DeleteRunner(ctx, repo, idle.RunnerID); err != nil || len(sim.Runners()) != 1 {
		t.Fatalf("DeleteRunner: %v; sim runners %+v", err, sim.Runners())
	}
}

// Gitea's runners take a job only if their labels contain every runs-on
// label exactly; nothing (not even self-hosted) is implied.
func TestGiteaRunnersMatchLabelsExactly(t *testing.T) {
	sim := startSim(t, forgesim.FlavorGitea, "")
	c := newClient(t, sim, core.ForgeGitea)
	_, rf := register(t, c, "exact-1") // labels linux, x64
	for _, lbls := range [][]string{{"Linux"}, {"self-hosted", "linux"}} {
		if _, err := sim.QueueJob(forgesim.JobSpec{Repo: "acme/app", Labels: lbls}); err != nil {
			t.Fatal(err)
		}
	}
	if b := fetchTask(t, rf); strings.Contains(string(b), `"task"`) {
		t.Fatalf("runner with labels linux,x64 was given a job it does not match exactly: %s", b)
	}
	j, _ := sim.QueueJob(forgesim.JobSpec{Repo: "acme/app", Labels: []string{"x64", "linux"}})
	if b := fetchTask(t, rf); !strings.Contains(string(b), fmt.Sprintf(`"job_id":%d`, j.ID)) {
		t.Fatalf("exactly matching job %d not handed out: %s", j.ID, b)
	}
}

// Forgejo's job search compares runs-on labels exactly, as its runners do.
func TestForgejoJobSearchIsCaseSensitive(t *testing.T) {
	sim := startSim(t, forgesim.FlavorForgejo, "")
	c := newClient(t, sim, core.ForgeForgejo)
	_, _ = sim.QueueJob(forgesim.JobSpec{Repo: "acme/app", Labels: []string{"Linux"}})
	if jobs, err := c.ListQueuedJobsFor(context.Background(), repo, []string{"linux"}); err != nil || len(jobs) != 0 {
		t.Fatalf("search with linux found %+v, %v; a runs-on Linux job is not offered to a linux runner", jobs, err)
	}
	if jobs, err := c.ListQueuedJobsFor(context.Background(), repo, []string{"Linux"}); err != nil || len(jobs) != 1 {
		t.Fatalf("search with Linux found %+v, %v", jobs, err)
	}
}
