package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/paddock-ci/paddock/internal/api"
	"github.com/paddock-ci/paddock/internal/check"
	"github.com/paddock-ci/paddock/internal/core"
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
	"entities": "entities", "tenants": "tenants",
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

Defaults (the same as in the config file): --max-runners 1, --bootstrap-timeout 20m,
--max-job-runtime 6h (0 = no limit), --os-type linux, --arch x64, --image default,
--runner-prefix paddock, enabled. The flags are checked against the server's rules
before anything is sent.`
	}
	fs := cmd.Flags()
	fs.String("name", "", "pool name")
	fs.String("entity", "", "entity name (owner/repo, org) or id")
	fs.String("provider", "", "provider name from the server's config")
	fs.String("image", "", "machine image")
	fs.String("flavor", "", "machine flavor / size")
	fs.String("os-type", "", "linux, windows or macos")
	fs.String("arch", "", "x64 or arm64")
	fs.StringSlice("labels", nil, "runner labels, comma separated")
	fs.Int("min-idle", 0, "idle runners kept warm")
	fs.Int("max-runners", 0, "most machines at once")
	fs.Int("free-target-percent", 0, "share of capacity to keep idle (0-100)")
	fs.Int("priority", 0, "higher wins when several pools match a job")
	fs.Duration("bootstrap-timeout", 0, "give up on a machine whose runner is not online by then (e.g. 20m)")
	fs.Duration("max-job-runtime", 0, "remove a machine whose job runs longer (e.g. 6h)")
	fs.String("runner-group", "", "forge runner group")
	fs.String("runner-prefix", "", "prefix for runner names: lower-case letters, digits and '-', starting with a letter, at most 52")
	fs.Bool("enabled", true, "whether the pool takes jobs (--enabled=false to drain)")
	fs.StringSlice("entities", nil, "share the pool with these entities too (names or ids; --entities= unshares)")
	fs.StringSlice("tenants", nil, `share the pool with these tenants' entities ("*" = all; --tenants= unshares)`)
	fs.Int("max-cpu", 0, "largest CPU count a size label may ask for")
	fs.Int("max-memory-gb", 0, "largest memory (GB) a size label may ask for")
	fs.Int("max-disk-gb", 0, "largest disk (GB) a size label may ask for")
	if create {
		for _, f := range []string{"name", "entity", "provider", "labels"} {
			_ = cmd.MarkFlagRequired(f)
		}
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		fs := cmd.Flags()
		body, err := changed(fs, poolKeys)
		if err != nil {
			return err
		}
		sizes, err := changed(fs, sizeKeys)
		if err != nil {
			return err
		}
		if create {
			// The server's own rules, before any request.
			var p core.Pool
			poolFromFlags(fs, &p)
			check.PoolDefaults(&p, func(field string) bool { return fs.Changed(flagOf(field)) })
			if err := flagProblems(cmd, check.Pool(p), nil); err != nil {
				return err
			}
			if len(sizes) > 0 {
				body["sizes"] = sizes
			}
			return call(g, cmd, http.MethodPost, poolsPath, nil, body, renderPool)
		}
		if len(sizes) == 0 {
			if err := requireChanged(cmd, body); err != nil {
				return err
			}
		}
		// Each flag given is checked on its own before any request...
		if err := flagProblems(cmd, check.Pool(roomyPool(fs)), fs); err != nil {
			return err
		}
		return updatePool(g, cmd, poolsPath+"/"+ref(args[0]), body, sizes)
	}
	return cmd
}

// updatePool reads the pool, checks the change against the rules the server
// applies (cross-field ones such as min_idle ≤ max_runners included), then
// sends it with If-Match, so a change made by someone else in between is
// refused (412) rather than silently overwritten.
func updatePool(g *globals, cmd *cobra.Command, path string, body, sizes map[string]any) error {
	c, err := g.client()
	if err != nil {
		return err
	}
	data, hdr, err := c.doHeader(cmd.Context(), http.MethodGet, path, nil, nil, nil)
	if err != nil {
		return err
	}
	var cur api.PoolView
	if err := json.Unmarshal(data, &cur); err != nil {
		return fmt.Errorf("unexpected answer from %s%s: %w", c.base, path, err)
	}
	before := cur.Pool
	before.BootstrapTimeout, before.MaxJobRuntime = time.Duration(cur.BootstrapTimeout), time.Duration(cur.MaxJobRuntime)
	check.PoolStored(&before)
	if len(sizes) > 0 {
		// The API replaces sizes as a whole; merge so one flag changes one limit.
		if z := before.Sizes; z != nil {
			for k, v := range map[string]int{"max_cpu": z.MaxCPU, "max_memory_gb": z.MaxMemoryGB, "max_disk_gb": z.MaxDiskGB} {
				if _, ok := sizes[k]; !ok {
					sizes[k] = v
				}
			}
		}
		body["sizes"] = sizes
	}
	after := before
	after.Labels = slices.Clone(before.Labels)
	poolFromFlags(cmd.Flags(), &after)
	// ...and the whole result before the change is sent.
	if err := flagProblems(cmd, check.PoolChange(before, after), nil); err != nil {
		return err
	}
	var h http.Header
	if tag := hdr.Get("ETag"); tag != "" {
		h = http.Header{"If-Match": {tag}}
	}
	data, _, err = c.doHeader(cmd.Context(), http.MethodPatch, path, nil, body, h)
	if err != nil {
		return err
	}
	var v api.PoolView
	return g.emit(cmd, data, &v, func(w io.Writer) { renderPool(w, v) })
}

// poolFromFlags sets the fields of p whose flags were given.
func poolFromFlags(fs *pflag.FlagSet, p *core.Pool) {
	str := map[string]*string{"name": &p.Name, "entity": &p.EntityID, "provider": &p.Provider, "image": &p.Image,
		"flavor": &p.Flavor, "os-type": &p.OSType, "arch": &p.Arch, "runner-group": &p.RunnerGroup, "runner-prefix": &p.RunnerPrefix}
	for flag, dst := range str {
		if fs.Changed(flag) {
			*dst, _ = fs.GetString(flag)
		}
	}
	num := map[string]*int{"min-idle": &p.MinIdle, "max-runners": &p.MaxRunners,
		"free-target-percent": &p.FreeTargetPercent, "priority": &p.Priority}
	for flag, dst := range num {
		if fs.Changed(flag) {
			*dst, _ = fs.GetInt(flag)
		}
	}
	dur := map[string]*time.Duration{"bootstrap-timeout": &p.BootstrapTimeout, "max-job-runtime": &p.MaxJobRuntime}
	for flag, dst := range dur {
		if fs.Changed(flag) {
			*dst, _ = fs.GetDuration(flag)
		}
	}
	if fs.Changed("labels") {
		p.Labels, _ = fs.GetStringSlice("labels")
	}
	if fs.Changed("enabled") {
		p.Enabled, _ = fs.GetBool("enabled")
	}
	if fs.Changed("max-cpu") || fs.Changed("max-memory-gb") || fs.Changed("max-disk-gb") {
		z := core.SizeLimits{}
		if p.Sizes != nil {
			z = *p.Sizes
		}
		for flag, dst := range map[string]*int{"max-cpu": &z.MaxCPU, "max-memory-gb": &z.MaxMemoryGB, "max-disk-gb": &z.MaxDiskGB} {
			if fs.Changed(flag) {
				*dst, _ = fs.GetInt(flag)
			}
		}
		p.Sizes = &z
	}
}

// roomyPool is a valid pool with the given flags applied, so check.Pool
// judges each given flag on its own (max_runners at its bound: min_idle is
// judged against the pool's own max_runners once it has been read).
func roomyPool(fs *pflag.FlagSet) core.Pool {
	p := core.Pool{Name: "p", Provider: "p", Labels: []string{"x"}, MaxRunners: check.MaxRunnersLimit,
		Sizes: &core.SizeLimits{MaxCPU: 1, MaxMemoryGB: 1, MaxDiskGB: 1}}
	check.PoolDefaults(&p, func(field string) bool { return field == "max_runners" })
	poolFromFlags(fs, &p)
	return p
}

// flagOf names the flag that sets a pool field ("labels[2]" → "labels").
func flagOf(field string) string {
	field, _, _ = strings.Cut(field, "[")
	for flag, key := range poolKeys {
		if key == field {
			return flag
		}
	}
	for flag, key := range sizeKeys {
		if "sizes."+key == field {
			return flag
		}
	}
	return field
}

// flagProblems turns check's field errors into one error naming the flags;
// with only set, problems of flags not given there are left out.
func flagProblems(cmd *cobra.Command, errs check.Errors, only *pflag.FlagSet) error {
	var lines []string
	for _, fe := range errs {
		flag := flagOf(fe.Field)
		if only != nil && !only.Changed(flag) {
			continue
		}
		lines = append(lines, "  --"+flag+": "+fe.Message)
	}
	if len(lines) == 0 {
		return nil
	}
	return &APIError{Message: "invalid pool settings (nothing was sent):\n" + strings.Join(lines, "\n"),
		Hint: "see `" + cmd.CommandPath() + " --help` for the accepted values"}
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
	if p.Shared() {
		fields(w, "Shared with", sharedWith(p.Entities, p.Tenants))
	}
	if h := p.Health; h != nil {
		fields(w, "Failing since", stamp(h.Since), "Failed creates", strconv.Itoa(h.Failures),
			"Next create", h.NextCreateAt.Local().Format(time.RFC3339))
	}
}

func sharedWith(entities, tenants []string) string {
	var parts []string
	if len(entities) > 0 {
		parts = append(parts, "entities "+strings.Join(entities, ","))
	}
	if len(tenants) > 0 {
		parts = append(parts, "tenants "+strings.Join(tenants, ","))
	}
	return strings.Join(parts, "; ")
}
