// Package check is the one validation, and the one set of defaults, for the
// objects an operator declares: forges, entities and pools. The config file
// loader, the REST API and the CLI all call it, so a value one of them
// accepts is never refused (or stranded) by another.
//
// Field names in errors are the objects' JSON and YAML keys ("min_idle",
// "labels[2]", "sizes.max_cpu"), so each caller can point at its own input:
// the config loader at a file line, the API at a body field, the CLI at a flag.
package check

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
)

// FieldError is one problem with one field.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e FieldError) String() string { return e.Field + ": " + e.Message }

// Errors lists every problem found in one object; empty means valid.
type Errors []FieldError

// Error joins the problems, one "field: message" per entry.
func (e Errors) Error() string {
	s := make([]string, len(e))
	for i, fe := range e {
		s[i] = fe.String()
	}
	return strings.Join(s, "; ")
}

// Err returns e as an error, or nil when there is no problem.
func (e Errors) Err() error {
	if len(e) == 0 {
		return nil
	}
	return e
}

// Has reports whether some problem concerns field (or a field under it).
func (e Errors) Has(field string) bool {
	for _, fe := range e {
		if fe.Field == field || strings.HasPrefix(fe.Field, field+".") || strings.HasPrefix(fe.Field, field+"[") {
			return true
		}
	}
	return false
}

func (e *Errors) add(field, format string, args ...any) {
	*e = append(*e, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// nameRE is what provider, forge and pool names look like: they appear in
// URLs (/webhooks/{forge}), metrics labels and log lines.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// NameProblem says what is wrong with an object name, or "" if nothing is.
func NameProblem(name string) string {
	switch {
	case name == "":
		return "required"
	case !nameRE.MatchString(name):
		return fmt.Sprintf("%q must be letters, digits, '.', '_' or '-' (at most 63, starting with a letter or digit)", name)
	}
	return ""
}

func (e *Errors) name(field, v string) {
	if msg := NameProblem(v); msg != "" {
		e.add(field, "%s", msg)
	}
}

// text checks a free-form string field: bounded, printable, one line. These
// values reach provider calls, runner registration and log lines.
func (e *Errors) text(field, v string, maxLen int) {
	switch {
	case len(v) > maxLen:
		e.add(field, "is %d bytes long; at most %d", len(v), maxLen)
	case strings.IndexFunc(v, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0:
		e.add(field, "%q must not contain control characters or line breaks", v)
	}
}

func itoa(i int) string { return fmt.Sprint(i) }
