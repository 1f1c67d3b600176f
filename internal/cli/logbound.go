package cli

import (
	"fmt"
	"log/slog"
	"unicode/utf8"
)

// maxLogValue bounds one logged value. Job names, labels and fault messages
// come partly from outside; without a bound one absurd value makes a
// multi-megabyte log line.
const maxLogValue = 1024

// boundLogValue is a slog ReplaceAttr that cuts long values, saying by how much.
func boundLogValue(_ []string, a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	var s string
	switch v.Kind() {
	case slog.KindString:
		s = v.String()
	case slog.KindAny:
		s = fmt.Sprint(v.Any())
	default:
		return a
	}
	if len(s) <= maxLogValue {
		return a
	}
	cut := maxLogValue
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return slog.String(a.Key, fmt.Sprintf("%s…(%d more bytes)", s[:cut], len(s)-cut))
}
