package forgetest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
	"github.com/paddock-ci/paddock/internal/scheduler"
)

// register mints a runner named name and removes it when the test ends (a
// real server must not keep the suite's runners).
func register(t *testing.T, tg Target, name string) forge.JITConfig {
	t.Helper()
	jit, err := tg.Client.JITConfig(context.Background(), tg.Entity, forge.JITRequest{Name: name, Labels: tg.Labels})
	if err != nil {
		t.Fatalf("JITConfig(%s): %v", name, err)
	}
	if jit.RunnerID == 0 || jit.Encoded == "" {
		t.Fatalf("JITConfig(%s) = %+v: want a runner id and an encoded config", name, jit)
	}
	t.Cleanup(func() { _ = tg.Client.DeleteRunner(context.Background(), tg.Entity, jit.RunnerID) })
	return jit
}

func named(rs []forge.Runner, name string) []forge.Runner {
	var out []forge.Runner
	for _, r := range rs {
		if r.Name == name {
			out = append(out, r)
		}
	}
	return out
}

// listRunners lists runners, checking that a forge without the runner API
// says so instead of answering "none". ok is false in that case.
func listRunners(t *testing.T, tg Target) (rs []forge.Runner, ok bool) {
	t.Helper()
	rs, err := tg.Client.ListRunners(context.Background(), tg.Entity)
	if !tg.RunnerAPI {
		if !errors.Is(err, errors.ErrUnsupported) {
			t.Fatalf("ListRunners without a runner API = %+v, %v; want errors.ErrUnsupported, never an empty list", rs, err)
		}
		return nil, false
	}
	if err != nil {
		t.Fatalf("ListRunners: %v", err)
	}
	return rs, true
}

// A crash between minting and recording the runner id retries with the same
// name: the retry must succeed and leave one registration by that name.
func testRegistrationIdempotent(t *testing.T, tg Target) {
	name := tg.Prefix + "-idem"
	register(t, tg, name)
	second := register(t, tg, name)
	rs, ok := listRunners(t, tg)
	if !ok {
		return
	}
	got := named(rs, name)
	if len(got) != 1 || got[0].ID != second.RunnerID {
		t.Fatalf("runners named %s after registering it twice = %+v; want exactly the second one (id %d)", name, got, second.RunnerID)
	}
}

func testListRunnersLabels(t *testing.T, tg Target) {
	name := tg.Prefix + "-labels"
	jit := register(t, tg, name)
	rs, ok := listRunners(t, tg)
	if !ok {
		return
	}
	got := named(rs, name)
	if len(got) != 1 || got[0].ID != jit.RunnerID {
		t.Fatalf("runners named %s = %+v; want the one registered (id %d)", name, got, jit.RunnerID)
	}
	for _, l := range tg.Labels {
		if !slices.Contains(got[0].Labels, l) {
			t.Fatalf("runner %s has labels %v; want every registered label (%v) as written", name, got[0].Labels, tg.Labels)
		}
	}
}

// Deleting a runner that is gone succeeds, and does not make the client take
// the runner API for missing: the runner kept is still listed afterwards.
func testDeleteMissing(t *testing.T, tg Target) {
	ctx := context.Background()
	kept := register(t, tg, tg.Prefix+"-kept")
	gone := register(t, tg, tg.Prefix+"-gone")
	for i, id := range []int64{gone.RunnerID, gone.RunnerID, 1 << 40} {
		if err := tg.Client.DeleteRunner(ctx, tg.Entity, id); err != nil {
			t.Fatalf("DeleteRunner #%d (id %d): %v; a runner that is gone must read as deleted", i+1, id, err)
		}
	}
	rs, ok := listRunners(t, tg)
	if !ok {
		return
	}
	if len(named(rs, tg.Prefix+"-gone")) != 0 {
		t.Fatalf("deleted runner still listed: %+v", rs)
	}
	if k := named(rs, tg.Prefix+"-kept"); len(k) != 1 || k[0].ID != kept.RunnerID {
		t.Fatalf("runners after deleting missing ones = %+v; want %s (id %d) still listed", rs, tg.Prefix+"-kept", kept.RunnerID)
	}
}

// labelVariants returns runs-on labels a runner registered with tg.Labels is
// offered under the forge's rules, and ones it is not.
func labelVariants(tg Target, rules forge.LabelRules) (match, other []string) {
	up := strings.ToUpper(tg.Labels[0])
	if rules.CaseSensitive {
		// Exact labels in another order match; another case does not.
		match = slices.Clone(tg.Labels)
		slices.Reverse(match)
		other = append([]string{up}, tg.Labels[1:]...)
		return match, other
	}
	// Case is ignored and the implied labels are always satisfied.
	match = append(append(slices.Clone(rules.Implied), up), tg.Labels[1:]...)
	other = append(slices.Clone(tg.Labels), "paddock-forgetest-absent")
	return match, other
}

// The listing, read with the forge's label rules (as the scheduler does),
// finds a queued job the registered labels match and passes over one they
// do not.
func testQueuedListing(t *testing.T, tg Target) {
	if tg.QueueJob == nil {
		t.Skip("cannot queue jobs on this forge from the test")
	}
	rules := forge.LabelRulesFor(tg.Kind)
	matchLabels, otherLabels := labelVariants(tg, rules)
	pools := []core.Pool{{ID: "p", Name: "p", EntityID: "e", Enabled: true, Labels: tg.Labels}}
	offered := func(labels []string) bool { return len(scheduler.MatchPoolsWith(rules, pools, "e", labels)) > 0 }
	if !offered(matchLabels) || offered(otherLabels) {
		t.Fatalf("suite bug: under %s rules %v should match %v and %v should not", rules.Forge, matchLabels, tg.Labels, otherLabels)
	}
	matchID := tg.QueueJob(t, matchLabels)
	otherID := tg.QueueJob(t, otherLabels)

	ctx := context.Background()
	var jobs []core.Job
	var err error
	if l, ok := tg.Client.(forge.LabelledJobLister); ok {
		jobs, err = l.ListQueuedJobsFor(ctx, tg.Entity, tg.Labels)
	} else {
		jobs, err = tg.Client.ListQueuedJobs(ctx, tg.Entity)
	}
	if !tg.JobListing {
		if !errors.Is(err, errors.ErrUnsupported) {
			t.Fatalf("queued listing without a job API = %+v, %v; want errors.ErrUnsupported, never an empty list", jobs, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("queued listing: %v", err)
	}
	var found bool
	for _, j := range jobs {
		switch j.ID {
		case matchID:
			found = true
			if !offered(j.Labels) {
				t.Fatalf("listed job %d has labels %v, which no longer match %v (queued with %v)", j.ID, j.Labels, tg.Labels, matchLabels)
			}
			if tg.Entity.Kind == core.EntityRepository && j.Repository != tg.Entity.Name {
				t.Fatalf("listed job %d: repository %q, want %q", j.ID, j.Repository, tg.Entity.Name)
			}
		case otherID:
			if offered(j.Labels) {
				t.Fatalf("job %d queued with %v is listed with labels %v that match %v", j.ID, otherLabels, j.Labels, tg.Labels)
			}
		}
	}
	if !found {
		t.Fatalf("queued job %d (labels %v) not in the listing %+v", matchID, matchLabels, jobs)
	}
}

func testWebhook(t *testing.T, tg Target) {
	if tg.QueueJob == nil || tg.Webhook == nil || tg.ParseWebhook == nil {
		t.Skip("this forge sends no workflow_job webhooks, or the test cannot receive them")
	}
	id := tg.QueueJob(t, tg.Labels)
	h, body := tg.Webhook(t, id, "queued")
	ev, err := tg.ParseWebhook(h, body)
	if err != nil {
		t.Fatalf("parse the queued webhook of job %d: %v", id, err)
	}
	if ev.Action != "queued" || ev.Job.ID != id || ev.Job.State != core.JobQueued ||
		!slices.Equal(ev.Job.Labels, tg.Labels) {
		t.Fatalf("event = %+v; want queued job %d with labels %v", ev, id, tg.Labels)
	}
	if tg.Entity.Kind == core.EntityRepository && ev.Entity.Repository != tg.Entity.Name {
		t.Fatalf("event entity = %+v; want repository %s", ev.Entity, tg.Entity.Name)
	}
	if _, err := tg.ParseWebhook(h, []byte(`{"action":"queued"`)); err == nil {
		t.Fatal("a truncated webhook body parsed without error")
	}
}

// A 5xx is a failure to retry: never "not found" (the runner is not gone),
// never "unsupported" (the API exists), never a rate limit.
func testServerError(t *testing.T, tg Target) {
	if tg.FailWith == nil {
		t.Skip("cannot make this forge fail from the test")
	}
	ctx := context.Background()
	var id int64
	if tg.RunnerAPI {
		id = register(t, tg, tg.Prefix+"-5xx").RunnerID
	}
	tg.FailWith(t, 500)
	plain := func(what string, err error) {
		t.Helper()
		var rl *forge.RateLimitError
		if err == nil || errors.Is(err, forge.ErrNotFound) || errors.Is(err, errors.ErrUnsupported) || errors.As(err, &rl) {
			t.Fatalf("%s during a 500: %v; want a plain error", what, err)
		}
	}
	_, err := tg.Client.JITConfig(ctx, tg.Entity, forge.JITRequest{Name: tg.Prefix + "-5xx-new", Labels: tg.Labels})
	plain("JITConfig", err)
	if tg.RunnerAPI {
		plain("DeleteRunner", tg.Client.DeleteRunner(ctx, tg.Entity, id))
		_, err := tg.Client.ListRunners(ctx, tg.Entity)
		plain("ListRunners", err)
	}
	tg.FailWith(t, 0)
	if rs, ok := listRunners(t, tg); ok && len(named(rs, tg.Prefix+"-5xx")) != 1 {
		t.Fatalf("runners after the 500s = %+v; want %s still registered", rs, tg.Prefix+"-5xx")
	}
}

func testRateLimit(t *testing.T, tg Target) {
	if tg.FailWith == nil {
		t.Skip("cannot make this forge rate-limit from the test")
	}
	tg.FailWith(t, 429)
	check := func(what string, err error) {
		t.Helper()
		var rl *forge.RateLimitError
		if !errors.As(err, &rl) || rl.RetryAfter != retryAfterSeconds*time.Second {
			t.Fatalf("%s while rate limited: %v; want a *forge.RateLimitError retrying after %ds", what, err, retryAfterSeconds)
		}
	}
	_, err := tg.Client.JITConfig(context.Background(), tg.Entity, forge.JITRequest{Name: tg.Prefix + "-limited", Labels: tg.Labels})
	check("JITConfig", err)
	if tg.RunnerAPI {
		_, err := tg.Client.ListRunners(context.Background(), tg.Entity)
		check("ListRunners", err)
	}
}
