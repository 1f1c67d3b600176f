package bootstrap

import (
	"bytes"
	"io"
	"sync"
)

// onlineLine is what GitHub's runner (and Paddock's simulated one) prints
// once it is connected and waiting for its job.
var onlineLine = []byte("Listening for Jobs")

// onlineWatch passes the runner's output through and calls online once, when
// the runner says it is listening for jobs.
type onlineWatch struct {
	w      io.Writer
	online func()
	mu     sync.Mutex
	tail   []byte // the end of the output so far, for a line split across writes
	seen   bool
}

func (o *onlineWatch) Write(p []byte) (int, error) {
	o.mu.Lock()
	if !o.seen {
		o.tail = append(o.tail, p...)
		if bytes.Contains(o.tail, onlineLine) {
			o.seen = true
			o.tail = nil
			o.online()
		} else if n := len(onlineLine) - 1; len(o.tail) > n {
			o.tail = append(o.tail[:0], o.tail[len(o.tail)-n:]...)
		}
	}
	o.mu.Unlock()
	return o.w.Write(p)
}
