package cli

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/paddock-ci/paddock/internal/api"
)

const (
	instancesPath = "/api/v1/instances"
	jobsPath      = "/api/v1/jobs"
)

func newInstanceCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "instance",
		Short: "Inspect and remove instances (one machine, one runner, one job)",
	}
	var pool string
	var states []string
	var all bool
	var ilimit int
	list := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List instances (live ones unless --all)",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := url.Values{}
			if pool != "" {
				q.Set("pool", pool)
			}
			for _, s := range states {
				q.Add("state", s)
			}
			if all {
				q.Set("all", "true")
			}
			return listPaged(g, cmd, instancesPath, q, ilimit, renderInstances)
		},
	}
	list.Flags().StringVar(&pool, "pool", "", "only this pool (name or id)")
	list.Flags().StringSliceVar(&states, "state", nil, "only these states (repeatable or comma separated)")
	list.Flags().BoolVar(&all, "all", false, "include deleted instances")
	list.Flags().IntVar(&ilimit, "limit", 0, "at most this many, oldest first (0 = all; fetched a page at a time)")
	cmd.AddCommand(list,
		showCmd(g, "instance", instancesPath, renderInstance),
		instanceDeleteCmd(g))
	return cmd
}

func instanceDeleteCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "delete NAME|ID",
		Aliases: []string{"rm"},
		Short:   "Ask the manager to remove an instance",
		Long: `Ask the manager to remove an instance: it deregisters the runner and
deletes the machine in the background. Watch it with paddock instance show.`,
		Args: exactArgs(1, "the instance's name or id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return call(g, cmd, http.MethodDelete, instancesPath+"/"+ref(args[0]), nil, nil,
				func(w io.Writer, i api.InstanceView) {
					fmt.Fprintf(w, "instance %s is being removed (state %s)\n", i.Name, i.State)
				})
		},
	}
}

func renderInstances(w io.Writer, is []api.InstanceView) {
	row(w, "NAME", "POOL", "STATE", "RUNNER", "AGE", "JOB", "FAULT")
	for _, i := range is {
		row(w, i.Name, i.Pool, string(i.State), string(i.Runner), age(i.CreatedAt), itoa(i.JobID), truncate(i.Fault, 50))
	}
}

func renderInstance(w io.Writer, i api.InstanceView) {
	fields(w, "Name", i.Name, "ID", i.ID, "Pool", i.Pool,
		"State", fmt.Sprintf("%s (for %s)", i.State, age(i.StateSince)),
		"Runner", fmt.Sprintf("%s (for %s)", i.Runner, age(i.RunnerSince)),
		"Provider ID", i.ProviderID, "Labels", strings.Join(i.Labels, ","), "Size", i.Size,
		"Runner ID", itoa(i.RunnerID), "Job", itoa(i.JobID), "Attempts", strconv.Itoa(i.Attempts),
		"Fault", i.Fault, "Created", stamp(i.CreatedAt), "Updated", stamp(i.UpdatedAt))
}

func newJobCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "job",
		Short: "Inspect the workflow jobs Paddock knows about",
	}
	var states []string
	var limit int
	var entity string
	list := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List jobs, newest first",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := url.Values{}
			for _, s := range states {
				q.Add("state", s)
			}
			if entity != "" {
				q.Set("entity", entity)
			}
			return listPaged(g, cmd, jobsPath, q, limit, renderJobs)
		},
	}
	list.Flags().StringSliceVar(&states, "state", nil, "only these states: queued, in_progress, completed")
	list.Flags().IntVar(&limit, "limit", 50, "at most this many, newest first (0 = all; fetched a page at a time)")
	list.Flags().StringVar(&entity, "entity", "", "only this entity (name or id)")

	var showEntity string
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show one job",
		Long:  "Show one job. Job ids are unique per forge only; give --entity if the id is ambiguous.",
		Args:  exactArgs(1, "the job id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			q := url.Values{}
			if showEntity != "" {
				q.Set("entity", showEntity)
			}
			return call(g, cmd, http.MethodGet, jobsPath+"/"+ref(args[0]), q, nil, renderJob)
		},
	}
	show.Flags().StringVar(&showEntity, "entity", "", "entity the job belongs to (name or id)")
	cmd.AddCommand(list, show)
	return cmd
}

// wait is how long a job waited for a runner, or has been waiting so far.
func wait(j api.JobView) string {
	switch {
	case j.QueuedAt.IsZero():
		return ""
	case !j.StartedAt.IsZero():
		return short(j.StartedAt.Sub(j.QueuedAt))
	case j.State == "queued":
		return short(time.Since(j.QueuedAt)) + "…"
	}
	return ""
}

func renderJobs(w io.Writer, js []api.JobView) {
	row(w, "ID", "REPO", "NAME", "LABELS", "STATE", "POOL", "RUNNER", "WAIT", "NOTE")
	for _, j := range js {
		state := string(j.State)
		if j.Conclusion != "" {
			state += "/" + j.Conclusion
		}
		row(w, strconv.FormatInt(j.ID, 10), j.Repository, truncate(j.Name, 30), strings.Join(j.Labels, ","),
			state, j.Pool, j.RunnerName, wait(j), truncate(j.Note, 50))
	}
}

func renderJob(w io.Writer, j api.JobView) {
	fields(w, "ID", strconv.FormatInt(j.ID, 10), "Entity", j.Entity, "Repository", j.Repository,
		"Workflow", j.Workflow, "Name", j.Name, "Run", fmt.Sprintf("%d (attempt %d)", j.RunID, j.RunAttempt),
		"Labels", strings.Join(j.Labels, ","), "State", string(j.State), "Conclusion", j.Conclusion,
		"Pool", j.Pool, "Runner", j.RunnerName, "Wait", wait(j), "Note", j.Note,
		"Queued", stamp(j.QueuedAt), "Started", stamp(j.StartedAt), "Completed", stamp(j.CompletedAt))
}
