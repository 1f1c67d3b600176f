package intake

import (
	"fmt"
	"unicode/utf8"

	"github.com/paddock-ci/paddock/internal/forge"
)

// Bounds on what a delivery may carry. A signed delivery comes from the
// forge, but its job name and labels are written by whoever can push a
// workflow; they are stored, scheduled on and logged, so absurd ones are
// refused here rather than carried everywhere. GitHub itself allows far
// fewer and shorter labels than these.
const (
	maxLabels     = 64
	maxLabelBytes = 256
	maxTextBytes  = 1024 // job, workflow and repository names
)

// checkEvent refuses an event whose values Paddock must not take in.
func checkEvent(ev *forge.JobEvent) error {
	j := &ev.Job
	if j.ID <= 0 {
		// Negative ids are Paddock's own scale-set placeholders.
		return fmt.Errorf("workflow_job id %d is not a positive number", j.ID)
	}
	if len(j.Labels) > maxLabels {
		return fmt.Errorf("workflow_job %d has %d labels; at most %d are accepted", j.ID, len(j.Labels), maxLabels)
	}
	for i, l := range j.Labels {
		if len(l) > maxLabelBytes || !utf8.ValidString(l) {
			return fmt.Errorf("workflow_job %d: label %d is not valid UTF-8 of at most %d bytes", j.ID, i, maxLabelBytes)
		}
	}
	for _, s := range []*string{&j.Name, &j.Workflow, &j.Repository, &ev.Entity.Repository, &ev.Entity.Organization, &ev.Entity.Enterprise} {
		if len(*s) > maxTextBytes {
			return fmt.Errorf("workflow_job %d: a name is longer than %d bytes", j.ID, maxTextBytes)
		}
	}
	return nil
}
