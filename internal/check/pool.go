package check

import (
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/paddock-ci/paddock/internal/core"
)

// Pool defaults, applied to fields a pool declaration leaves out.
// max_runners defaults low on purpose: a forgotten value should not be able
// to run up a cloud bill.
const (
	DefaultImage            = "default"
	DefaultOSType           = "linux"
	DefaultArch             = "x64"
	DefaultMaxRunners       = 1
	DefaultBootstrapTimeout = 20 * time.Minute
	DefaultMaxJobRuntime    = 6 * time.Hour
	DefaultRunnerPrefix     = "paddock"
)

// Pool bounds. Counts are bounded because the scheduler plans (and the store
// records) one instance per missing machine in a single decision: an
// unbounded min_idle is an unbounded allocation.
const (
	MaxRunnersLimit     = 10000
	MaxLabels           = 64  // GitHub accepts at most 100 labels per runner; a size label may be added
	MaxLabelLen         = 256 // GitHub's limit for a runner label
	MinBootstrapTimeout = 10 * time.Second
	MaxBootstrapTimeout = 24 * time.Hour
	MinJobRuntime       = time.Minute
	MaxJobRuntimeLimit  = 35 * 24 * time.Hour // GitHub cancels a workflow run after 35 days
	MaxSizeCPU          = 1024
	MaxSizeMemoryGB     = 16384
	MaxSizeDiskGB       = 1 << 20
	maxTextLen          = 1024 // image, flavor
	maxRunnerGroupLen   = 256
)

// Instance names are the runner prefix, '-' and InstanceSuffixLen random
// characters of [a-z0-9] (see controller.newName). Every provider must take
// them as they are: they become Kubernetes object names and a VM's host name
// (a DNS-1123 label: at most 63 of [a-z0-9-], starting and ending with an
// alphanumeric), LXD instance names (which may not start with a digit),
// QEMU and process state directories (no '/', '\', ',' or spaces) and GitHub
// runner names. MaxRunnerPrefixLen leaves room for the suffix.
const (
	MaxInstanceNameLen = 63
	InstanceSuffixLen  = 1 + 10
	MaxRunnerPrefixLen = MaxInstanceNameLen - InstanceSuffixLen
)

var prefixRE = regexp.MustCompile(`^[a-z]([a-z0-9-]*[a-z0-9])?$`)

var (
	// OSTypes and Arches are the values os_type and arch may take.
	OSTypes = []string{"linux", "windows", "macos"}
	Arches  = []string{"x64", "arm64"}
)

// PoolDefaults fills the fields of p that the declaration left out. given
// reports whether a field (by JSON/YAML key) was written: a written zero is
// kept where zero means something (max_job_runtime: 0 is "no limit",
// enabled: false) and refused by Pool where it does not (max_runners: 0).
// Empty strings always take their default.
func PoolDefaults(p *core.Pool, given func(field string) bool) {
	if p.Image == "" {
		p.Image = DefaultImage
	}
	if p.OSType == "" {
		p.OSType = DefaultOSType
	}
	if p.Arch == "" {
		p.Arch = DefaultArch
	}
	if p.RunnerPrefix == "" {
		p.RunnerPrefix = DefaultRunnerPrefix
	}
	if !given("max_runners") {
		p.MaxRunners = DefaultMaxRunners
	}
	if !given("bootstrap_timeout") {
		p.BootstrapTimeout = DefaultBootstrapTimeout
	}
	if !given("max_job_runtime") {
		p.MaxJobRuntime = DefaultMaxJobRuntime
	}
	if !given("enabled") {
		p.Enabled = true
	}
	if p.Labels == nil {
		p.Labels = []string{}
	}
	NormalFlavors(p)
}

// PoolStored gives the empty string fields of a stored pool their defaults:
// older versions stored "" (an API-made pool had no runner prefix), which
// the manager has always treated as the default.
func PoolStored(p *core.Pool) {
	PoolDefaults(p, func(string) bool { return true })
}

// Pool checks a pool's own fields (after PoolDefaults). References (does the
// entity exist, is the provider configured) are the caller's to check.
func Pool(p core.Pool) Errors {
	var e Errors
	e.name("name", p.Name)
	e.name("provider", p.Provider)
	e.labels(p.Labels)
	e.text("image", p.Image, maxTextLen)
	e.text("flavor", p.Flavor, maxTextLen)
	e.providerSettings(p.ExtraSpecs, p.Flavors)
	if !slices.Contains(OSTypes, p.OSType) {
		e.add("os_type", "unknown os_type %q (want linux, windows or macos)", p.OSType)
	}
	if !slices.Contains(Arches, p.Arch) {
		e.add("arch", "unknown arch %q (want x64 or arm64; amd64 is written x64)", p.Arch)
	}
	e.counts(p)
	e.poolSharing(p)
	e.durations(p)
	e.text("runner_group", p.RunnerGroup, maxRunnerGroupLen)
	if msg := RunnerPrefixProblem(p.RunnerPrefix); msg != "" {
		e.add("runner_prefix", "%s", msg)
	}
	if s := p.Sizes; s != nil {
		// 0 CPU or memory lets no size label fit; 0 disk does not limit disk.
		e.between("sizes.max_cpu", s.MaxCPU, 0, MaxSizeCPU)
		e.between("sizes.max_memory_gb", s.MaxMemoryGB, 0, MaxSizeMemoryGB)
		e.between("sizes.max_disk_gb", s.MaxDiskGB, 0, MaxSizeDiskGB)
	}
	if p.ScaleSet {
		// GitHub routes a job to a scale set by its name alone, so the pool
		// must name one, and size labels (matched per job) cannot reach it.
		if p.ScaleSetName() == "" {
			e.add("labels", "a scale_set pool needs a label other than self-hosted: the first one names the scale set")
		}
		if p.Sizes != nil {
			e.add("sizes", "not available with scale_set (GitHub sends a scale set only jobs that ask for its name)")
		}
	}
	return e
}

// RunnerPrefixProblem says what is wrong with a runner prefix, or "" if
// nothing is. See MaxRunnerPrefixLen for why the rule is what it is.
func RunnerPrefixProblem(prefix string) string {
	if len(prefix) > MaxRunnerPrefixLen || !prefixRE.MatchString(prefix) {
		return "\"" + strings.ToValidUTF8(prefix, "?") + "\" must be lower-case letters, digits and '-', start with a letter, " +
			"not end with '-', and be at most " + itoa(MaxRunnerPrefixLen) + " long (instance names add " +
			itoa(InstanceSuffixLen) + " characters and must fit every provider's 63)"
	}
	return ""
}

func (e *Errors) labels(labels []string) {
	switch {
	case len(labels) == 0:
		e.add("labels", "at least one label is required (jobs select runners by label)")
		return
	case len(labels) > MaxLabels:
		e.add("labels", "%d labels; at most %d", len(labels), MaxLabels)
		return
	}
	seen := map[string]bool{}
	for i, l := range labels {
		f := "labels[" + itoa(i) + "]"
		switch {
		case l == "" || strings.IndexFunc(l, func(r rune) bool { return r == ',' || unicode.IsSpace(r) || !unicode.IsPrint(r) }) >= 0:
			e.add(f, "label %q must be non-empty with no spaces, commas or control characters", l)
		case len(l) > MaxLabelLen:
			e.add(f, "label is %d bytes long; at most %d", len(l), MaxLabelLen)
		case seen[strings.ToLower(l)]:
			// Forges compare labels case-insensitively.
			e.add(f, "duplicate label %q", l)
		}
		seen[strings.ToLower(l)] = true
	}
}

func (e *Errors) counts(p core.Pool) {
	e.between("max_runners", p.MaxRunners, 1, MaxRunnersLimit)
	switch {
	case p.MinIdle < 0:
		e.add("min_idle", "must be ≥ 0")
	case p.MinIdle > p.MaxRunners:
		e.add("min_idle", "must be ≤ max_runners (%d)", p.MaxRunners)
	}
	e.between("free_target_percent", p.FreeTargetPercent, 0, 100)
}

func (e *Errors) durations(p core.Pool) {
	if d := p.BootstrapTimeout; d < MinBootstrapTimeout || d > MaxBootstrapTimeout {
		e.add("bootstrap_timeout", "must be from %s to %s, got %s", MinBootstrapTimeout, MaxBootstrapTimeout, d)
	}
	if d := p.MaxJobRuntime; d != 0 && (d < MinJobRuntime || d > MaxJobRuntimeLimit) {
		e.add("max_job_runtime", "must be 0 (no limit) or from %s to %s, got %s", MinJobRuntime, MaxJobRuntimeLimit, d)
	}
}

func (e *Errors) between(field string, v, lo, hi int) {
	switch {
	case v < lo:
		e.add(field, "must be ≥ %d", lo)
	case v > hi:
		e.add(field, "must be ≤ %d", hi)
	}
}

// PoolChange returns the problems that refuse changing a pool from before to
// after: those of Pool(after), except that a pool stored by an older version
// may hold values refused now, and disabling it (the drain procedure) must
// still work. So a change that leaves the pool disabled may keep fields that
// were already invalid, as long as it makes no other field invalid.
func PoolChange(before, after core.Pool) Errors {
	errs := Pool(after)
	if len(errs) == 0 || after.Enabled {
		return errs
	}
	old := Pool(before)
	for _, fe := range errs {
		if !old.Has(fe.Field) {
			return errs
		}
	}
	return nil
}
