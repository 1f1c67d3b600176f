package cli

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/paddock-ci/paddock/internal/api"
)

const poolsPath = "/api/v1/pools"

func newPoolCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pool",
		Short: "Manage pools: identically configured runners on one provider for one entity",
	}
	cmd.AddCommand(
		listCmd(g, "pool", poolsPath, renderPools),
		showCmd(g, "pool", poolsPath, renderPool),
		poolWriteCmd(g, true),
		poolWriteCmd(g, false),
		deleteCmd(g, "pool", poolsPath, `Delete a pool. It must have no live instances: disable it first
(paddock pool update NAME --enabled=false) and let its machines drain.`),
	)
	return cmd
}

var poolKeys = map[string]string{
	"name": "name", "entity": "entity", "provider": "provider", "image": "image", "flavor": "flavor",
	"os-type": "os_type", "arch": "arch", "labels": "labels", "min-idle": "min_idle",
	"max-runners": "max_runners", "free-target-percent": "free_target_percent", "priority": "priority",
	"bootstrap-timeout": "bootstrap_timeout", "max-job-runtime": "max_job_runtime",
	"runner-group": "runner_group", "runner-prefix": "runner_prefix", "enabled": "enabled",
}

var sizeKeys = map[string]string{"max-cpu": "max_cpu", "max-memory-gb": "max_memory_gb", "max-disk-gb": "max_disk_gb"}

func poolWriteCmd(g *globals, create bool) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "update NAME|ID",
		Short: "Change a pool (only the flags given change)",
		Long: `Change a pool; only the flags given change.

  paddock pool update linux --max-runners 20 --min-idle 2
  paddock pool update linux --enabled=false`,
		Args: exactArgs(1, "the pool's name or id"),
	}
	if create {
		cmd.Use, cmd.Short, cmd.Args = "create", "Add a pool", cobra.NoArgs
		cmd.Long = `Add a pool. Jobs whose labels are all in --labels may run on it.

  paddock pool create --name linux --entity acme/app --provider local \
      --labels self-hosted,linux,x64 --max-runners 10 --min-idle 1 --bootstrap-timeout 20m

Server defaults: --max-runners 1, --bootstrap-timeout 20m, --max-job-runtime 6h,
--os-type linux, --arch x64, enabled.`
	}
	fs := cmd.Flags()
	fs.String("name", "", "pool name")
	fs.String("entity", "", "entity name (owner/repo, org) or id")
	fs.String("provider", "", "provider name from the server's config")
	fs.String("image", "", "machine image")
	fs.String("flavor", "", "machine flavor / size")
	fs.String("os-type", "", "linux or windows")
	fs.String("arch", "", "x64 or arm64")
	fs.StringSlice("labels", nil, "runner labels, comma separated")
	fs.Int("min-idle", 0, "idle runners kept warm")
	fs.Int("max-runners", 0, "most machines at once")
	fs.Int("free-target-percent", 0, "share of capacity to keep idle (0-100)")
	fs.Int("priority", 0, "higher wins when several pools match a job")
	fs.Duration("bootstrap-timeout", 0, "give up on a machine whose runner is not online by then (e.g. 20m)")
	fs.Duration("max-job-runtime", 0, "remove a machine whose job runs longer (e.g. 6h)")
	fs.String("runner-group", "", "forge runner group")
	fs.String("runner-prefix", "", "prefix for runner names")
	fs.Bool("enabled", true, "whether the pool takes jobs (--enabled=false to drain)")
	fs.Int("max-cpu", 0, "largest CPU count a size label may ask for")
	fs.Int("max-memory-gb", 0, "largest memory (GB) a size label may ask for")
	fs.Int("max-disk-gb", 0, "largest disk (GB) a size label may ask for")
	if create {
		for _, f := range []string{"name", "entity", "provider", "labels"} {
			_ = cmd.MarkFlagRequired(f)
		}
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		body, err := changed(cmd.Flags(), poolKeys)
		if err != nil {
			return err
		}
		sizes, err := changed(cmd.Flags(), sizeKeys)
		if err != nil {
			return err
		}
		if create {
			if len(sizes) > 0 {
				body["sizes"] = sizes
			}
			return call(g, cmd, http.MethodPost, poolsPath, nil, body, renderPool)
		}
		path := poolsPath + "/" + ref(args[0])
		if len(sizes) > 0 {
			// The API replaces sizes as a whole; merge so one flag changes one limit.
			if err := mergeSizes(g, cmd, path, sizes); err != nil {
				return err
			}
			body["sizes"] = sizes
		}
		if err := requireChanged(cmd, body); err != nil {
			return err
		}
		return call(g, cmd, http.MethodPatch, path, nil, body, renderPool)
	}
	return cmd
}

func mergeSizes(g *globals, cmd *cobra.Command, path string, sizes map[string]any) error {
	c, err := g.client()
	if err != nil {
		return err
	}
	var cur api.PoolView
	if _, err := c.getJSON(cmd.Context(), path, nil, &cur); err != nil {
		return err
	}
	if cur.Sizes == nil {
		return nil
	}
	for k, v := range map[string]int{"max_cpu": cur.Sizes.MaxCPU, "max_memory_gb": cur.Sizes.MaxMemoryGB, "max_disk_gb": cur.Sizes.MaxDiskGB} {
		if _, ok := sizes[k]; !ok {
			sizes[k] = v
		}
	}
	return nil
}

func enabled(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// poolStatus is "ok", or "failing: " and the provider's last create error
// (cut to fit a table row when short is set).
func poolStatus(p api.PoolView, short bool) string {
	if p.Health == nil {
		return p.Status
	}
	msg := strings.Join(strings.Fields(p.Health.LastError), " ")
	if r := []rune(msg); short && len(r) > 60 {
		msg = string(r[:59]) + "…"
	}
	return p.Status + ": " + msg
}

func renderPools(w io.Writer, ps []api.PoolView) {
	row(w, "NAME", "ENTITY", "PROVIDER", "LABELS", "IDLE/MIN", "LIVE/MAX", "PRIORITY", "ENABLED", "STATUS")
	for _, p := range ps {
		row(w, p.Name, p.Entity, p.Provider, strings.Join(p.Labels, ","),
			fmt.Sprintf("%d/%d", p.Idle, p.MinIdle), fmt.Sprintf("%d/%d", p.Live, p.MaxRunners),
			strconv.Itoa(p.Priority), enabled(p.Enabled), poolStatus(p, true))
	}
}

func renderPool(w io.Writer, p api.PoolView) {
	sizes := "none (size labels refused)"
	if z := p.Sizes; z != nil {
		sizes = fmt.Sprintf("up to %d CPU, %d GB memory, %d GB disk", z.MaxCPU, z.MaxMemoryGB, z.MaxDiskGB)
	}
	fields(w, "Name", p.Name, "ID", p.ID, "Entity", p.Entity, "Provider", p.Provider,
		"Image", p.Image, "Flavor", p.Flavor, "OS/arch", p.OSType+"/"+p.Arch,
		"Labels", strings.Join(p.Labels, ","), "Enabled", enabled(p.Enabled), "Status", poolStatus(p, false),
		"Instances", fmt.Sprintf("%d live, %d idle", p.Live, p.Idle),
		"Min idle", strconv.Itoa(p.MinIdle), "Max runners", strconv.Itoa(p.MaxRunners),
		"Free target", fmt.Sprintf("%d%%", p.FreeTargetPercent), "Priority", strconv.Itoa(p.Priority),
		"Bootstrap timeout", p.BootstrapTimeout.String(), "Max job runtime", p.MaxJobRuntime.String(),
		"Runner group", p.RunnerGroup, "Runner prefix", p.RunnerPrefix, "Sizes", sizes,
		"Created", stamp(p.CreatedAt), "Updated", stamp(p.UpdatedAt))
	if h := p.Health; h != nil {
		fields(w, "Failing since", stamp(h.Since), "Failed creates", strconv.Itoa(h.Failures),
			"Next create", h.NextCreateAt.Local().Format(time.RFC3339))
	}
}
