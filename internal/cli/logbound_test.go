package cli

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

// TestLogValuesBounded: a 5 MB label, in a string or a list, makes a log
// line of a few KB, not 10 MB.
func TestLogValuesBounded(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: boundLogValue}))
	huge := strings.Repeat("x", 5<<20)
	log.Warn("job waits", "labels", []string{"linux", huge}, "name", huge, "err", errors.New(huge), "job", 42)
	line := buf.String()
	if len(line) > 8<<10 {
		t.Fatalf("log line is %d bytes", len(line))
	}
	if !strings.Contains(line, "more bytes)") || !strings.Contains(line, "job=42") || !strings.Contains(line, "linux") {
		t.Fatalf("line lost its shape: %.300s", line)
	}
}
