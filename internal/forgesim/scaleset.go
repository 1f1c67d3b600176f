package forgesim

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// The scale-set part of the sim stands in for the Actions service that
// github.com/actions/scaleset talks to. The rules it enforces are the ones
// that library documents: one live message session per scale set (a second
// one is refused with 409 until the first expires), messages stay queued
// until deleted, statistics are current on every answer, and a job can be
// assigned, cancelled and re-assigned up to three times.

const (
	defaultScaleSetLongPoll   = 50 * time.Second
	defaultScaleSetSessionTTL = 2 * time.Minute
	maxJobMessagesPerMessage  = 50 // GitHub's cap per message
	maxReassignments          = 3
)

// Assignment states of a job routed to a scale set.
const (
	ssAssigned = "assigned" // a runner of the set may acquire it
	ssHeld     = "held"     // assigned, but a cancellation is scheduled (SetScaleSetReassign)
	ssCanceled = "canceled" // assignment cancelled; waiting to be assigned again
)

type scaleSetState struct {
	sets       map[int]*scaleSet
	nextSet    int
	nextMsg    int
	jobs       map[int64]*ssJob // sim job id → its scale-set assignment
	runnerSet  map[int64]int    // runner id → scale set id, for runners minted by a set
	regTokens  map[string]scope // registration tokens handed out on /api/v3
	adminKey   []byte
	longPoll   time.Duration
	sessionTTL time.Duration
	reassign   int           // cancellations each new assignment goes through
	reassignGp time.Duration // delay before each cancellation and re-assignment
	msgLimit   int           // job messages kept per message; the rest are dropped
}

type scaleSet struct {
	id        int
	name      string
	scope     scope
	groupID   int
	labels    []string
	createdOn time.Time
	session   *ssSession
	messages  []*ssMessage // not yet acknowledged, ascending id
	// capacity is the X-ScaleSetMaxCapacity of the latest poll; polls counts them.
	capacity, polls int
}

type ssSession struct {
	id, owner, token string
	lastSeen         time.Time
	polling          int // long-polls in flight keep the session alive
}

type ssMessage struct {
	id        int
	items     []map[string]any
	delivered bool // handed out at least once: later events go into a new message
}

type ssJob struct {
	setID   int
	state   string
	cancels int // cancellations still to come
	rounds  int // cancellations so far
}

func newScaleSetState() *scaleSetState {
	return &scaleSetState{sets: map[int]*scaleSet{}, nextSet: 1, nextMsg: 1, jobs: map[int64]*ssJob{},
		runnerSet: map[int64]int{}, regTokens: map[string]scope{}, adminKey: []byte(randomHex(32)),
		longPoll: defaultScaleSetLongPoll, sessionTTL: defaultScaleSetSessionTTL, msgLimit: maxJobMessagesPerMessage}
}

// SetScaleSetTiming sets how long a message poll is held (GitHub: about 50 s)
// and after how long without a poll a session expires and may be taken over.
// Zero keeps the current value.
func (s *Sim) SetScaleSetTiming(longPoll, sessionTTL time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if longPoll > 0 {
		s.scale.longPoll = longPoll
	}
	if sessionTTL > 0 {
		s.scale.sessionTTL = sessionTTL
	}
}

// SetScaleSetReassign makes every job assigned to a scale set from now on be
// cancelled and re-assigned n times (at most 3, as on GitHub), each step gap
// apart, before a runner may acquire it.
func (s *Sim) SetScaleSetReassign(n int, gap time.Duration) error {
	if n < 0 || n > maxReassignments {
		return fmt.Errorf("re-assignments must be from 0 to %d, got %d", maxReassignments, n)
	}
	s.mu.Lock()
	s.scale.reassign, s.scale.reassignGp = n, gap
	s.mu.Unlock()
	return nil
}

// SetScaleSetMessageLimit caps the job messages one message carries (GitHub:
// 50); events past the cap are dropped, as GitHub truncates large backlogs.
// Only the statistics then tell the whole truth.
func (s *Sim) SetScaleSetMessageLimit(n int) {
	s.mu.Lock()
	s.scale.msgLimit = max(n, 0)
	s.mu.Unlock()
}

// ScaleSet is a snapshot of a scale set, for tests and the demo.
type ScaleSet struct {
	ID           int    `json:"id"`
	Name         string `json:"name"`
	Scope        string `json:"scope"`
	SessionOwner string `json:"session_owner,omitempty"`
	Pending      int    `json:"pending_messages"`
	Capacity     int    `json:"last_max_capacity"`
	Polls        int    `json:"polls"`
}

// ScaleSets lists the scale sets, by id.
func (s *Sim) ScaleSets() []ScaleSet {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []ScaleSet{}
	for _, set := range s.scale.sets {
		v := ScaleSet{ID: set.id, Name: set.name, Scope: set.scope.key(), Pending: len(set.messages),
			Capacity: set.capacity, Polls: set.polls}
		if set.session != nil && s.sessionLiveLocked(set.session) {
			v.SessionOwner = set.session.owner
		}
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b ScaleSet) int { return a.ID - b.ID })
	return out
}

// StealScaleSetSession opens a session on the named scale set for owner, as
// another process would, replacing whatever session was there. It never
// polls, so it expires after the session TTL.
func (s *Sim) StealScaleSetSession(name, owner string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, set := range s.scale.sets {
		if strings.EqualFold(set.name, name) {
			set.session = &ssSession{id: uuid.NewString(), owner: owner, token: randomHex(20), lastSeen: time.Now()}
			s.notifyLocked()
			return nil
		}
	}
	return fmt.Errorf("no scale set named %q", name)
}

func (s *Sim) sessionLiveLocked(ss *ssSession) bool {
	return ss.polling > 0 || time.Since(ss.lastSeen) < s.scale.sessionTTL
}

// setForJobLocked finds the scale set a job is routed to: one in reach of
// the job's repository whose labels cover every label the job asks for.
func (s *Sim) setForJobLocked(j *job) *scaleSet {
	var best *scaleSet
	for _, set := range s.scale.sets {
		probe := &runner{scope: set.scope, labels: set.labels}
		if eligible(probe, j) && (best == nil || set.id < best.id) {
			best = set
		}
	}
	return best
}

// scaleSetQueuedLocked routes a newly queued job to a scale set, if one
// serves it. Caller holds s.mu.
func (s *Sim) scaleSetQueuedLocked(j *job) {
	set := s.setForJobLocked(j)
	if set == nil {
		return
	}
	sj := &ssJob{setID: set.id, cancels: s.scale.reassign}
	s.scale.jobs[j.ID] = sj
	s.assignToSetLocked(j, sj)
}

// assignToSetLocked announces an assignment and schedules the next
// cancellation if the job is to be re-assigned.
func (s *Sim) assignToSetLocked(j *job, sj *ssJob) {
	set := s.scale.sets[sj.setID]
	if set == nil {
		return
	}
	sj.state = ssAssigned
	s.pushLocked(set, jobMessage("JobAssigned", j, nil, ""))
	if sj.cancels > 0 {
		sj.state = ssHeld
		id := j.ID
		time.AfterFunc(s.scale.reassignGp, func() { s.cancelAssignment(id) })
	}
	s.notifyLocked()
}

// cancelAssignment plays GitHub's "not acquired in time": JobCompleted with
// result canceled and no runner, then the same job assigned again later.
func (s *Sim) cancelAssignment(jobID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sj, j := s.scale.jobs[jobID], s.jobLocked(jobID)
	if sj == nil || j == nil || sj.state != ssHeld || j.Status != StatusQueued {
		return
	}
	sj.state, sj.cancels = ssCanceled, sj.cancels-1
	sj.rounds++
	if set := s.scale.sets[sj.setID]; set != nil {
		s.pushLocked(set, jobMessage("JobCompleted", j, nil, "canceled"))
	}
	s.notifyLocked()
	delay := time.Duration(sj.rounds) * s.scale.reassignGp // incremental, as on GitHub
	time.AfterFunc(delay, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if cur := s.scale.jobs[jobID]; cur == sj && sj.state == ssCanceled && j.Status == StatusQueued {
			s.assignToSetLocked(j, sj)
		}
	})
}

func (s *Sim) jobLocked(id int64) *job {
	for _, j := range s.jobs {
		if j.ID == id {
			return j
		}
	}
	return nil
}

// scaleSetAllowsLocked keeps scale-set jobs and runners to each other: a
// job assigned to a set goes only to that set's runners, and only while the
// assignment stands; a set's runner takes nothing else.
func (s *Sim) scaleSetAllowsLocked(rn *runner, j *job) bool {
	setID, isSetRunner := s.scale.runnerSet[rn.id]
	sj := s.scale.jobs[j.ID]
	if sj == nil {
		return !isSetRunner
	}
	return isSetRunner && setID == sj.setID && sj.state == ssAssigned
}

// scaleSetStartedLocked reports that a set's runner acquired a job.
func (s *Sim) scaleSetStartedLocked(j *job, rn *runner) {
	if sj := s.scale.jobs[j.ID]; sj != nil {
		if set := s.scale.sets[sj.setID]; set != nil {
			s.pushLocked(set, jobMessage("JobStarted", j, rn, ""))
		}
	}
}

// scaleSetCompletedLocked reports a finished job of a set.
func (s *Sim) scaleSetCompletedLocked(j *job, rn *runner) {
	sj := s.scale.jobs[j.ID]
	if sj == nil {
		return
	}
	result := "succeeded"
	if j.Conclusion != ConclusionSuccess {
		result = "failed"
	}
	if set := s.scale.sets[sj.setID]; set != nil {
		s.pushLocked(set, jobMessage("JobCompleted", j, rn, result))
	}
}

// pushLocked appends a job message to the set's newest undelivered message,
// or starts a new one. Past the message limit the event is dropped.
func (s *Sim) pushLocked(set *scaleSet, item map[string]any) {
	n := len(set.messages)
	if n > 0 && !set.messages[n-1].delivered {
		m := set.messages[n-1]
		if len(m.items) < s.scale.msgLimit {
			m.items = append(m.items, item)
		}
		return
	}
	m := &ssMessage{id: s.scale.nextMsg}
	s.scale.nextMsg++
	if s.scale.msgLimit > 0 {
		m.items = []map[string]any{item}
	}
	set.messages = append(set.messages, m)
}

// jobMessage is one entry of a message body, in the Actions service's shape.
func jobMessage(kind string, j *job, rn *runner, result string) map[string]any {
	owner, repo, _ := strings.Cut(j.Repo, "/")
	now := time.Now().UTC()
	m := map[string]any{
		"messageType": kind, "runnerRequestId": j.ID, "repositoryName": repo, "ownerName": owner,
		"jobId": strconv.FormatInt(j.ID, 10), "jobWorkflowRef": owner + "/" + repo + "/.github/workflows/ci.yml@refs/heads/" + j.HeadBranch,
		"jobDisplayName": j.Name, "workflowRunId": j.RunID, "eventName": "push", "requestLabels": j.Labels,
		"queueTime": j.CreatedAt, "scaleSetAssignTime": now,
	}
	if rn != nil {
		m["runnerId"], m["runnerName"] = rn.id, rn.name
		m["runnerAssignTime"] = j.StartedAt
	}
	if result != "" {
		m["result"] = result
		m["finishTime"] = now
	}
	return m
}

// statsLocked computes a set's statistics now, from the jobs and runners.
func (s *Sim) statsLocked(set *scaleSet) map[string]int {
	var assigned, running, available, registered, busy int
	for _, j := range s.jobs {
		sj := s.scale.jobs[j.ID]
		if sj == nil || sj.setID != set.id || j.Status == StatusCompleted {
			continue
		}
		if sj.state == ssCanceled {
			available++
			continue
		}
		assigned++
		if j.Status == StatusInProgress {
			running++
		}
	}
	for id, setID := range s.scale.runnerSet {
		if rn := s.runners[id]; rn != nil && setID == set.id {
			registered++
			if rn.busy {
				busy++
			}
		}
	}
	return map[string]int{"totalAvailableJobs": available, "totalAcquiredJobs": running,
		"totalAssignedJobs": assigned, "totalRunningJobs": running, "totalRegisteredRunners": registered,
		"totalBusyRunners": busy, "totalIdleRunners": registered - busy}
}

func (s *Sim) setJSONLocked(set *scaleSet) map[string]any {
	labels := make([]map[string]string, len(set.labels))
	for i, l := range set.labels {
		labels[i] = map[string]string{"type": "System", "name": l}
	}
	return map[string]any{"id": set.id, "name": set.name, "runnerGroupId": set.groupID,
		"runnerGroupName": groupName(set.groupID), "labels": labels, "RunnerSetting": map[string]any{},
		"createdOn": set.createdOn, "statistics": s.statsLocked(set),
		"runnerJitConfigUrl": s.actionsBaseLocked() + "_apis/runtime/runnerscalesets/" + strconv.Itoa(set.id) + "/generatejitconfig"}
}

func groupName(id int) string {
	if id == 1 {
		return defaultRunnerGroup
	}
	return "group-" + strconv.Itoa(id)
}

func (s *Sim) actionsBaseLocked() string { return s.base + "_actions/" }

func (s *Sim) messageJSONLocked(set *scaleSet, m *ssMessage) map[string]any {
	body, _ := json.Marshal(m.items)
	if m.items == nil {
		body = []byte("[]")
	}
	return map[string]any{"messageId": m.id, "messageType": "RunnerScaleSetJobMessages",
		"body": string(body), "statistics": s.statsLocked(set)}
}
