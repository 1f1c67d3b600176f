package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/paddock-ci/paddock/internal/check"
	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store"
)

// maxBody bounds request bodies; admin objects are tiny, a private key is the largest field.
const maxBody = 1 << 20

// Error is the body of every non-2xx answer. Fields lists every field that
// failed validation (400 answers to creates and updates), so a client can fix
// them all at once; Error then names them too.
type Error struct {
	Error  string             `json:"error"`
	Fields []check.FieldError `json:"fields,omitempty"`
}

// statusError is an answer whose status and message are already decided
// (client mistakes, conflicts that name what conflicts).
type statusError struct {
	code   int
	msg    string
	fields []check.FieldError
}

// invalid is the 400 answer listing every problem with an object (nil
// when there is none).
func invalid(kind string, errs check.Errors) *statusError {
	if len(errs) == 0 {
		return nil
	}
	return &statusError{code: http.StatusBadRequest, msg: "invalid " + kind + ": " + errs.Error(), fields: errs}
}

// Err returns e as an error: nil (not a typed nil) when e is nil.
func (e *statusError) Err() error {
	if e == nil {
		return nil
	}
	return e
}

func (e *statusError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &statusError{code: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

func conflict(format string, args ...any) error {
	return &statusError{code: http.StatusConflict, msg: fmt.Sprintf(format, args...)}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client went away; nothing useful to do
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, Error{Error: msg})
}

// fail maps an error to a status. Unexpected errors are logged and answered
// generically so store internals do not leak to clients.
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var se *statusError
	var tr *core.ErrTransition
	switch {
	case errors.As(err, &se):
		writeJSON(w, se.code, Error{Error: se.msg, Fields: se.fields})
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, store.ErrConflict), errors.As(err, &tr):
		writeError(w, http.StatusConflict, err.Error())
	default:
		s.log.Error("api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "internal error; see the server log")
	}
}

// decode reads one JSON object strictly: unknown fields and trailing data are
// errors, so typos in field names do not silently do nothing.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("%s", describeJSONError(err))
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		return badRequest("request body has data after the JSON object")
	}
	return nil
}

func describeJSONError(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var big *http.MaxBytesError
	switch {
	case errors.Is(err, io.EOF):
		return "request body is empty; expected a JSON object"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "malformed JSON: body ends early"
	case errors.As(err, &syn):
		return fmt.Sprintf("malformed JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return fmt.Sprintf("expected a JSON object, got %s", typ.Value)
		}
		return fmt.Sprintf("field %q: expected %s, got JSON %s", typ.Field, typ.Type, typ.Value)
	case errors.As(err, &big):
		return fmt.Sprintf("request body larger than %d bytes", big.Limit)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	default:
		return "invalid JSON: " + strings.TrimPrefix(err.Error(), "json: ")
	}
}

// refErr words a not-found answer itself, since stores phrase (and prefix)
// their errors differently.
func refErr(kind, ref string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return &statusError{code: http.StatusNotFound, msg: fmt.Sprintf("%s %q not found", kind, ref)}
	}
	return err
}
