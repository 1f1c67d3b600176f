// Package ui is Paddock's web dashboard at /ui/: server-rendered HTML
// (html/template) with htmx for live partial refreshes, driven by the event
// stream, and uPlot for the two charts. Everything it serves is embedded in
// the binary; there is no front-end build step.
//
// It reads the store directly (as the API does) and never renders a secret:
// views are built from pools, instances, jobs and events, none of which
// holds a token, a JIT config or a forge credential.
package ui

import (
	"context"
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/paddock-ci/paddock/internal/httplimit"
	"github.com/paddock-ci/paddock/internal/metrics"
	"github.com/paddock-ci/paddock/internal/scheduler"
	"github.com/paddock-ci/paddock/internal/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options configure the dashboard.
type Options struct {
	Store store.Store
	// AdminToken and ViewerToken are what the login page accepts.
	AdminToken, ViewerToken string
	// AuthFailures limits failed logins (shared with the API's token checks).
	AuthFailures *httplimit.AuthFailures
	// Events serves the event stream to signed-in browsers.
	Events http.Handler
	// PoolHealth, DeleteInstance and Notify are the controller's, as the API uses them.
	PoolHealth     func() map[string]scheduler.PoolHealth
	DeleteInstance func(ctx context.Context, name string) error
	Notify         func()
	// Metrics, if set, supplies the forge rate-limit budget left.
	Metrics *metrics.Metrics
	Logger  *slog.Logger
	Now     func() time.Time
}

// Handler serves /ui/.
type Handler struct {
	o     Options
	log   *slog.Logger
	sess  *sessions
	pages map[string]*template.Template
	mux   *http.ServeMux
}

// New builds the dashboard handler.
func New(o Options) (*Handler, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.AuthFailures == nil {
		o.AuthFailures = httplimit.NewAuthFailures(10, 300)
	}
	h := &Handler{o: o, log: o.Logger, sess: newSessions(o.AdminToken, o.ViewerToken, o.AuthFailures, o.Now)}
	var err error
	if h.pages, err = parsePages(); err != nil {
		return nil, err
	}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	m := http.NewServeMux()
	m.Handle("GET /ui/static/", http.StripPrefix("/ui/static/", http.FileServerFS(static)))
	m.HandleFunc("GET /ui/login", h.loginPage)
	m.HandleFunc("POST /ui/login", h.login)
	m.HandleFunc("POST /ui/logout", h.logout)
	m.Handle("GET /ui/events", h.signedIn(func(w http.ResponseWriter, r *http.Request, _ session) {
		if h.o.Events == nil {
			http.NotFound(w, r)
			return
		}
		h.o.Events.ServeHTTP(w, r)
	}))
	m.Handle("GET /ui/{$}", h.signedIn(h.overview))
	m.Handle("GET /ui/pools", h.signedIn(h.pools))
	m.Handle("GET /ui/jobs", h.signedIn(h.jobs))
	m.Handle("GET /ui/instances", h.signedIn(h.instances))
	m.Handle("GET /ui/instances/{name}", h.signedIn(h.instance))
	m.Handle("GET /ui/usage", h.signedIn(h.usage))
	m.Handle("GET /ui/confirm/{action}", h.signedIn(h.confirm))
	m.Handle("POST /ui/actions/{action}", h.signedIn(h.act))
	m.HandleFunc("/ui/", func(w http.ResponseWriter, r *http.Request) {
		h.render(w, r, http.StatusNotFound, "message", page{Title: "Not found",
			Message: "There is no dashboard page at " + r.URL.Path + "."})
	})
	h.mux = m
	return h, nil
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	// Scripts only from here: the vendored libraries and app.js. Styles may
	// be inline because uPlot and htmx set element styles.
	hd.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "+
		"img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	h.mux.ServeHTTP(w, r)
}

// signedIn admits requests with a valid session; others go to the login page
// (htmx requests are told to go there, the event stream gets a 401).
func (h *Handler) signedIn(next func(http.ResponseWriter, *http.Request, session)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, ok := h.sess.current(r)
		if !ok {
			_, errNoCookie := r.Cookie(cookieName)
			target := "/ui/login"
			if errNoCookie == nil { // a cookie, but not a valid session
				target += "?expired=1"
			}
			switch {
			case r.URL.Path == "/ui/events":
				http.Error(w, "sign in at /ui/login", http.StatusUnauthorized)
			case r.Header.Get("HX-Request") != "":
				w.Header().Set("HX-Redirect", target)
				w.WriteHeader(http.StatusUnauthorized)
			default:
				http.Redirect(w, r, target, http.StatusSeeOther)
			}
			return
		}
		next(w, r, sess)
	})
}

func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	p := page{Title: "Sign in"}
	if r.URL.Query().Get("expired") != "" {
		p.Error = "Your session ended or is no longer valid. Sign in again."
	}
	h.render(w, r, http.StatusOK, "login", p)
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil {
		h.render(w, r, http.StatusBadRequest, "login", page{Title: "Sign in", Error: "The form was too large or malformed."})
		return
	}
	role, msg := h.sess.loginAttempt(r, r.PostFormValue("token"))
	if msg != "" {
		h.render(w, r, http.StatusUnauthorized, "login", page{Title: "Sign in", Error: msg})
		return
	}
	h.sess.issue(w, r, role)
	http.Redirect(w, r, "/ui/", http.StatusSeeOther)
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	if sess, ok := h.sess.current(r); ok && !checkCSRF(r, sess) {
		h.render(w, r, http.StatusForbidden, "message", page{Title: "Refused", Message: "The sign-out form was stale; reload the page and try again."})
		return
	}
	clearCookie(w, r)
	http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
}
