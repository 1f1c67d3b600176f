package ui

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store"
)

// The dashboard's actions are the CLI's: drain or enable a pool
// (paddock pool update NAME --enabled=false|true) and remove an instance
// (paddock instance delete NAME). Each is a GET that shows a confirmation
// page and a POST from that page that does it; only admins get either.

type action struct {
	Title, Question, Button, Param string
}

var actions = map[string]action{
	"pool-drain": {Title: "Drain pool", Button: "Drain", Param: "pool",
		Question: "Drain pool %s? It stops taking jobs; its idle machines are removed and busy ones finish their job first."},
	"pool-enable": {Title: "Enable pool", Button: "Enable", Param: "pool",
		Question: "Enable pool %s? It takes jobs again and keeps its warm machines."},
	"instance-remove": {Title: "Remove instance", Button: "Remove", Param: "instance",
		Question: "Remove instance %s? Its machine is deleted; a runner that is running a job is kept until the job ends."},
}

type confirmData struct {
	Action, Target, Question, Button, Param, Cancel string
}

func (h *Handler) refuseViewer(w http.ResponseWriter, r *http.Request, s session) {
	h.render(w, r, http.StatusForbidden, "message", page{Title: "Not allowed", Sess: s,
		Message: "You are signed in with the viewer token: you can see everything but change nothing. Sign in with the admin token to do this."})
}

func (h *Handler) confirm(w http.ResponseWriter, r *http.Request, s session) {
	name := r.PathValue("action")
	a, ok := actions[name]
	if !ok {
		h.render(w, r, http.StatusNotFound, "message", page{Title: "Unknown action", Sess: s, Message: "There is no action " + name + "."})
		return
	}
	if s.Role != RoleAdmin {
		h.refuseViewer(w, r, s)
		return
	}
	target := r.URL.Query().Get(a.Param)
	cancel := "/ui/pools"
	if a.Param == "instance" {
		cancel = "/ui/instances/" + url.PathEscape(target)
	}
	d := confirmData{Action: name, Target: target, Question: sprintf(a.Question, target), Button: a.Button,
		Param: a.Param, Cancel: cancel}
	h.render(w, r, http.StatusOK, "confirm", page{Title: a.Title, Sess: s, Data: d})
}

func (h *Handler) act(w http.ResponseWriter, r *http.Request, s session) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	name := r.PathValue("action")
	a, ok := actions[name]
	if !ok {
		h.render(w, r, http.StatusNotFound, "message", page{Title: "Unknown action", Sess: s, Message: "There is no action " + name + "."})
		return
	}
	if s.Role != RoleAdmin {
		h.refuseViewer(w, r, s)
		return
	}
	if err := r.ParseForm(); err != nil || !checkCSRF(r, s) {
		h.render(w, r, http.StatusForbidden, "message", page{Title: "Refused", Sess: s,
			Message: "This request did not come from a current dashboard page. Go back, reload and confirm again."})
		return
	}
	target := r.PostFormValue(a.Param)
	ctx := r.Context()
	var err error
	next := "/ui/pools?done="
	switch name {
	case "pool-drain", "pool-enable":
		enable := name == "pool-enable"
		var p core.Pool
		p, err = h.o.Store.ModifyPool(ctx, target, func(p *core.Pool) error { p.Enabled = enable; return nil })
		if err == nil {
			next += url.QueryEscape(map[bool]string{true: "enabled ", false: "drained "}[enable] + p.Name)
			h.log.Info("ui: pool changed", "pool", p.Name, "enabled", enable)
		}
	case "instance-remove":
		if h.o.DeleteInstance == nil {
			err = errors.New("instance removal is not available on this server")
			break
		}
		err = h.o.DeleteInstance(ctx, target)
		next = "/ui/instances/" + url.PathEscape(target) + "?done=" + url.QueryEscape("removal requested")
		h.log.Info("ui: instance removal requested", "instance", target)
	}
	if errors.Is(err, store.ErrNotFound) {
		h.render(w, r, http.StatusNotFound, "message", page{Title: "Not found", Sess: s,
			Message: "There is no " + a.Param + " " + target + "; it may have been removed meanwhile."})
		return
	}
	if err != nil {
		h.fail(w, r, "the "+a.Param, err)
		return
	}
	if h.o.Notify != nil {
		h.o.Notify()
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}
