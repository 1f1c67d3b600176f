package external

import "time"

// SetAdoptWait shortens how long a retried create waits for an adopted
// machine that is not running; it returns the undo.
func SetAdoptWait(d time.Duration) func() {
	old := adoptWait
	adoptWait = d
	return func() { adoptWait = old }
}
