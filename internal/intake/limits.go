package intake

import "github.com/paddock-ci/paddock/internal/forge"

// checkEvent refuses an event whose values Paddock must not take in; the
// rule is forge.CheckJobEvent, shared with the poller and the scale-set
// listener.
func checkEvent(ev *forge.JobEvent) error { return forge.CheckJobEvent(*ev) }
