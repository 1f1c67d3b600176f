package forge

// Capabilities are what a forge adapter can do beyond the Client methods
// every forge has. Adapters declare them (Client.Capabilities) and callers
// read them, rather than probing clients with type assertions, which also
// fail silently on wrappers that embed a Client.
type Capabilities struct {
	// Conditional lists queued jobs with an exact request count, and with
	// conditional requests (ETag / If-None-Match) where the forge honours
	// them; nil if the adapter has no such listing (callers fall back to
	// ListQueuedJobs and count it as one request). Pollers use it.
	Conditional ConditionalJobLister
	// Labelled is set when the forge's job search needs the labels of the
	// runners that would take the jobs (Forgejo): ListQueuedJobs cannot
	// answer then, and callers pass PoolLabels instead.
	Labelled LabelledJobLister
	// RunnerAPI: runners can be listed and deleted (ListRunners,
	// DeleteRunner). Without it (Forgejo before 15) registrations Paddock
	// made stay behind until the forge forgets them.
	RunnerAPI bool
	// EphemeralRunners: a runner deregisters itself after its one job.
	// Otherwise the forge keeps it and Paddock deletes it once the job is done.
	EphemeralRunners bool
	// RunnerKind is the runner program machines run and what JITConfig
	// returns: "" for GitHub's runner, whose JITConfig is a just-in-time
	// config (run.sh --jitconfig); act_runner or forgejo-runner for a runner
	// Paddock registered itself, whose JITConfig is its base64 `.runner` file.
	RunnerKind string
	// Labels are the forge's label-matching rules (LabelRulesFor its kind).
	Labels LabelRules
}
