package forgesim

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

const (
	hookID      = 424242
	hookTimeout = 5 * time.Second
	hookAgent   = "GitHub-Hookshot/f5e3a1c"
)

// Delivery records one webhook delivery attempt.
type Delivery struct {
	ID        string    `json:"id"` // X-GitHub-Delivery
	Action    string    `json:"action"`
	JobID     int64     `json:"job_id"`
	Status    int       `json:"status,omitempty"` // receiver's HTTP status; 0 if it did not answer
	Error     string    `json:"error,omitempty"`
	Dropped   bool      `json:"dropped,omitempty"`   // fault: never sent
	Duplicate bool      `json:"duplicate,omitempty"` // fault: a second send of the same delivery
	At        time.Time `json:"at"`
}

type hookItem struct {
	id, action string
	event      string // "" = workflow_job
	jobID      int64
	repoID     int64
	body       []byte
	copies     int // 1, or 2 when duplicated
}

// hookQueue sends deliveries one at a time, in order, off the caller's path.
type hookQueue struct {
	s      *Sim
	mu     sync.Mutex
	items  []hookItem
	wake   chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	client *http.Client
}

func newHookQueue(s *Sim) *hookQueue {
	ctx, cancel := context.WithCancel(context.Background())
	q := &hookQueue{s: s, wake: make(chan struct{}, 1), ctx: ctx, cancel: cancel, done: make(chan struct{}),
		client: &http.Client{Timeout: hookTimeout}}
	go q.loop()
	return q
}

func (q *hookQueue) push(it hookItem) {
	q.mu.Lock()
	q.items = append(q.items, it)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *hookQueue) close() {
	q.cancel()
	<-q.done
}

func (q *hookQueue) loop() {
	defer close(q.done)
	for {
		q.mu.Lock()
		var it *hookItem
		if len(q.items) > 0 {
			it = &q.items[0]
			q.items = q.items[1:]
		}
		q.mu.Unlock()
		if it == nil {
			select {
			case <-q.wake:
				continue
			case <-q.ctx.Done():
				return
			}
		}
		for i := range it.copies {
			q.send(*it, i > 0)
		}
	}
}

func (q *hookQueue) send(it hookItem, duplicate bool) {
	s := q.s
	d := Delivery{ID: it.id, Action: it.action, JobID: it.jobID, Duplicate: duplicate, At: time.Now().UTC()}
	req, err := http.NewRequestWithContext(q.ctx, http.MethodPost, s.opts.WebhookURL, bytes.NewReader(it.body))
	if err == nil {
		h := req.Header
		h.Set("Content-Type", "application/json")
		h.Set("User-Agent", hookAgent)
		h.Set("X-GitHub-Event", "workflow_job")
		h.Set("X-GitHub-Delivery", it.id)
		h.Set("X-GitHub-Hook-ID", strconv.Itoa(hookID))
		h.Set("X-GitHub-Hook-Installation-Target-Type", "repository")
		h.Set("X-GitHub-Hook-Installation-Target-ID", strconv.FormatInt(it.repoID, 10))
		if s.opts.WebhookSecret != "" {
			h.Set("X-Hub-Signature-256", "sha256="+Sign(s.opts.WebhookSecret, it.body))
			mac := hmac.New(sha1.New, []byte(s.opts.WebhookSecret))
			mac.Write(it.body)
			h.Set("X-Hub-Signature", "sha1="+hex.EncodeToString(mac.Sum(nil)))
		}
		if s.gt != nil {
			s.giteaHookHeaders(h, it.id, it.event, it.body)
		}
		var resp *http.Response
		if resp, err = q.client.Do(req); err == nil {
			d.Status = resp.StatusCode
			_ = resp.Body.Close()
		}
	}
	if err != nil {
		d.Error = err.Error()
	}
	s.mu.Lock()
	s.deliveries = append(s.deliveries, d)
	switch {
	case err != nil || d.Status >= 300:
		s.stats.WebhooksFailed++
	default:
		s.stats.WebhooksDelivered++
	}
	if duplicate {
		s.stats.WebhooksDuplicated++
	}
	s.mu.Unlock()
	if err != nil {
		s.opts.Logf("forgesim: webhook %s (%s job %d) failed: %v", it.id, it.action, it.jobID, err)
	}
}

// Sign is the hex HMAC-SHA256 GitHub puts after "sha256=" in X-Hub-Signature-256.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// enqueueHookLocked snapshots j into a workflow_job payload and queues it,
// rolling the drop/duplicate faults now so the outcome follows the seed.
// Caller holds s.mu.
func (s *Sim) enqueueHookLocked(action string, j *job) {
	if s.opts.WebhookURL == "" {
		return
	}
	api := s.base
	owner, _, _ := strings.Cut(j.Repo, "/")
	repo := repoJSON(api, j.Repo, j.Org)
	payload := map[string]any{
		"action":       action,
		"workflow_job": jobJSON(api, j),
		"repository":   repo,
		"sender":       userJSON(api, owner, "User"),
	}
	if j.Org != "" {
		payload["organization"] = orgJSON(api, j.Org)
	}
	event := ""
	if s.gt != nil {
		s.giteaPayloadLocked(payload, j)
		if s.gt.flavor == FlavorForgejo {
			// Forgejo sends no workflow_job webhooks; the push that queued
			// the job is all a receiver hears.
			if action != "queued" {
				return
			}
			payload, event = forgejoPushPayload(repo, j, payload["sender"]), "push"
		}
	}
	body, err := json.Marshal(payload)
	if err != nil {
		s.opts.Logf("forgesim: encoding webhook: %v", err)
		return
	}
	it := hookItem{id: uuid.NewString(), action: action, event: event, jobID: j.ID, repoID: repo["id"].(int64), body: body, copies: 1}
	dropRoll, dupRoll := s.rng.Float64(), s.rng.Float64()
	switch {
	case dropRoll < s.faults.WebhookDropRate:
		s.stats.WebhooksDropped++
		s.deliveries = append(s.deliveries, Delivery{ID: it.id, Action: action, JobID: j.ID, Dropped: true,
			At: time.Now().UTC()})
		return
	case dupRoll < s.faults.WebhookDuplicateRate:
		it.copies = 2
	}
	s.hooks.push(it)
}

// Deliveries returns every webhook delivery attempt so far, in order.
func (s *Sim) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Delivery(nil), s.deliveries...)
}
