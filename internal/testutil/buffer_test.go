package testutil

import "testing"

func TestSyncBufferConcurrentWrites(t *testing.T) {
	var b SyncBuffer
	done := make(chan struct{})
	for range 4 {
		go func() {
			for range 100 {
				_, _ = b.Write([]byte("x"))
			}
			done <- struct{}{}
		}()
	}
	for range 4 {
		<-done
	}
	if n := len(b.String()); n != 400 {
		t.Fatalf("buffer holds %d bytes, want 400", n)
	}
}
