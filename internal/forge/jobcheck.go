package forge

import (
	"fmt"
	"unicode/utf8"

	"github.com/paddock-ci/paddock/internal/core"
)

// Bounds on a job taken from outside: a webhook delivery, a poll's listing or
// a scale-set message. They come from the forge, but a job's name and labels
// are written by whoever can push a workflow; they are stored, scheduled on
// and logged, so absurd ones are refused where they enter rather than carried
// everywhere. GitHub itself allows far fewer and shorter labels than these.
const (
	MaxJobLabels     = 64
	MaxJobLabelBytes = 256
	MaxJobTextBytes  = 1024 // job, workflow and repository names
)

// CheckJob refuses a job from outside whose values Paddock must not take in.
// Ids must be positive: negative ones are Paddock's own scale-set
// placeholders, which never come from outside.
func CheckJob(j core.Job) error {
	if j.ID <= 0 {
		return fmt.Errorf("workflow_job id %d is not a positive number", j.ID)
	}
	if len(j.Labels) > MaxJobLabels {
		return fmt.Errorf("workflow_job %d has %d labels; at most %d are accepted", j.ID, len(j.Labels), MaxJobLabels)
	}
	for i, l := range j.Labels {
		if len(l) > MaxJobLabelBytes || !utf8.ValidString(l) {
			return fmt.Errorf("workflow_job %d: label %d is not valid UTF-8 of at most %d bytes", j.ID, i, MaxJobLabelBytes)
		}
	}
	return checkNames(j.ID, j.Name, j.Workflow, j.Repository, j.RunnerName)
}

// CheckJobEvent is CheckJob plus the names of the event's entity.
func CheckJobEvent(ev JobEvent) error {
	if err := CheckJob(ev.Job); err != nil {
		return err
	}
	return checkNames(ev.Job.ID, ev.Entity.Repository, ev.Entity.Organization, ev.Entity.Enterprise)
}

func checkNames(id int64, names ...string) error {
	for _, s := range names {
		if len(s) > MaxJobTextBytes {
			return fmt.Errorf("workflow_job %d: a name is longer than %d bytes", id, MaxJobTextBytes)
		}
	}
	return nil
}
