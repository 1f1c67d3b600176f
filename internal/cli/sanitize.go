package cli

import (
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Names, labels and messages in server answers come partly from outside
// (workflow authors name jobs, machines report faults). Printed raw, an
// escape sequence among them would reach the operator's terminal, which can
// rewrite the screen, set the window title or even the clipboard (OSC 52).
// Human output therefore shows control characters escaped; -o json is
// unaffected (JSON escapes them itself).

// sanitize escapes control, bidirectional-override and invalid bytes in s;
// keep lists the control characters left alone.
func sanitize(s, keep string) string {
	clean := true
	for _, r := range s {
		if unsafeRune(r) && !strings.ContainsRune(keep, r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unsafeRune(r) && !strings.ContainsRune(keep, r):
			if r < 0x100 {
				fmt.Fprintf(&b, `\x%02x`, r)
			} else {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func unsafeRune(r rune) bool {
	return r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r)
}

// cell is sanitize for one table cell: tabs and newlines would break the
// table's rows and columns, so they are escaped too.
func cell(s string) string { return sanitize(s, "") }

// safeWriter escapes what sanitize escapes in everything written through it,
// keeping the newlines and tabs that lay out tables and listings. Each Write
// must carry whole characters (fmt's functions write whole strings).
type safeWriter struct{ w io.Writer }

func (s safeWriter) Write(p []byte) (int, error) {
	clean := sanitize(string(p), "\n\t")
	if _, err := io.WriteString(s.w, clean); err != nil {
		return 0, err
	}
	return len(p), nil
}
