package ui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
)

// page is what every template gets.
type page struct {
	Title string
	Nav   string // which menu entry is current
	Sess  session
	// Self is the URL the live region refreshes from; empty: no live refresh.
	Self    string
	Error   string
	Message string
	Flash   string
	Data    any
}

// Admin reports whether the signed-in person may change things.
func (p page) Admin() bool { return p.Sess.Role == RoleAdmin }

var pageNames = []string{"login", "message", "overview", "pools", "jobs", "instances", "instance", "usage", "confirm"}

func parsePages() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"dur":   fmtDur,
		"ago":   func(t time.Time) string { return fmtAgo(t, time.Now()) },
		"stamp": func(t time.Time) string { return stamp(t) },
		"pct":   func(a, b int) int { return pct(a, b) },
		"json":  toJSON,
		"join":  strings.Join,
		"short": shortID,
		"states": func() []string {
			var out []string
			for _, s := range core.InstanceStates {
				out = append(out, string(s))
			}
			return out
		},
		"seconds": func(s float64) string { return fmtDur(time.Duration(s * float64(time.Second))) },
	}
	out := map[string]*template.Template{}
	for _, n := range pageNames {
		t, err := template.New(n).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+n+".html")
		if err != nil {
			return nil, fmt.Errorf("ui: template %s: %w", n, err)
		}
		out[n] = t
	}
	return out, nil
}

// render executes a page into a buffer first, so a failing template gives a
// plain error page rather than half a page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	if s, ok := h.sess.current(r); ok && p.Sess.Role == "" {
		p.Sess = s
	}
	var buf bytes.Buffer
	if err := h.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		h.log.Error("ui: render", "page", name, "err", err)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintln(w, "The dashboard could not draw this page. The server log says why.")
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// fail shows a store error without its details (they go to the log).
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, what string, err error) {
	h.log.Error("ui: "+what, "err", err)
	h.render(w, r, http.StatusInternalServerError, "message", page{Title: "Something went wrong",
		Message: "Reading " + what + " failed. Try again; if it keeps failing, the server log says why."})
}

// toJSON is for data-* attributes, which the template escapes as text.
func toJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "null"
	}
	return string(b)
}

func pct(a, b int) int {
	if b <= 0 {
		return 0
	}
	return min(100, a*100/b)
}

func shortID(s string) string {
	if len(s) > 8 {
		return s[:8]
	}
	return s
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func fmtAgo(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return fmtDur(now.Sub(t))
}

// fmtDur renders a duration compactly: 850ms, 12s, 3m05s, 2h10m, 3d4h.
func fmtDur(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.0fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }
