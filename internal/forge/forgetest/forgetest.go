// Package forgetest is a conformance suite for forge.Client adapters, like
// storetest for stores: each adapter's tests call Run with a setup that
// builds a client against the forge simulator in one of its flavours, or
// against a real server when one is configured (see Real).
//
// The suite states what the rest of Paddock relies on: registration is
// idempotent by runner name; a deleted or missing runner reads as gone only
// when the forge really has a runner API; queued-job listings combined with
// the forge's label rules pick the jobs a pool's runners would be offered;
// webhooks parse into forge.JobEvent; rate limits and server errors are
// told apart.
package forgetest

import (
	"net/http"
	"testing"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
)

// Target is one forge under test.
type Target struct {
	Kind   core.ForgeKind
	Client forge.Client
	// Entity is where runners are registered and jobs are queued; the suite
	// registers runners named with Prefix there.
	Entity core.Entity
	Prefix string
	// Labels are what the suite registers runners with and the jobs it
	// queues ask for (a lower-case label first: the rules cases vary its case).
	Labels []string
	// RunnerAPI: the forge lists and deletes runners over REST. Without it
	// ListRunners must fail with errors.ErrUnsupported (never read as "no
	// runners") and DeleteRunner must succeed without a call.
	RunnerAPI bool
	// RunnerAPIMissing: the version should have the runner API but its
	// endpoints answer 404 (a proxy, a fork). RunnerAPI is then false, and
	// ListRunners must fail with errors.ErrUnsupported from the first call;
	// a runner must never read as gone because of the 404.
	RunnerAPIMissing bool
	// JobListing: the forge lists queued jobs. Without it the listing must
	// fail with errors.ErrUnsupported (never read as "nothing queued").
	JobListing bool

	// The rest drive the forge from outside; a real server leaves them nil
	// and the cases that need them are skipped.

	// QueueJob queues a job asking for labels and returns its id.
	QueueJob func(t *testing.T, labels []string) int64
	// Webhook waits for the workflow_job delivery of action for job id and
	// returns it. Nil also for forges that send no workflow_job webhooks.
	Webhook func(t *testing.T, jobID int64, action string) (http.Header, []byte)
	// ParseWebhook is the adapter's parser for those deliveries.
	ParseWebhook func(h http.Header, body []byte) (forge.JobEvent, error)
	// FailWith makes every later API call answer status (500 or 429, the
	// latter with Retry-After: retryAfterSeconds); 0 restores normal answers.
	FailWith func(t *testing.T, status int)
}

// retryAfterSeconds is what FailWith(429) announces in Retry-After.
const retryAfterSeconds = 7

// Setup builds a fresh Target for one case; it registers its own cleanup
// with t and skips t (saying why) when the forge is not available.
type Setup func(t *testing.T) Target

// Run runs every case against fresh targets from setup.
func Run(t *testing.T, setup Setup) {
	for _, c := range []struct {
		name string
		fn   func(*testing.T, Target)
	}{
		{"RegistrationIsIdempotentByName", testRegistrationIdempotent},
		{"ListRunnersShowsLabelsAsRegistered", testListRunnersLabels},
		{"DeleteOfMissingRunnerSucceeds", testDeleteMissing},
		{"QueuedListingFollowsLabelRules", testQueuedListing},
		{"WebhookParsesIntoJobEvent", testWebhook},
		{"ServerErrorIsNotGoneNorRateLimit", testServerError},
		{"RateLimitIsClassified", testRateLimit},
	} {
		t.Run(c.name, func(t *testing.T) { c.fn(t, setup(t)) })
	}
}
