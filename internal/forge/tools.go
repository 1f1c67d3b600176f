package forge

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// DownloadOS maps a pool's os_type (linux, windows, macos) or a forge's own
// spelling to the name GitHub's download list uses (linux, win, osx), so
// both sides of a match are spelled one way.
func DownloadOS(s string) string {
	switch s = strings.ToLower(strings.TrimSpace(s)); s {
	case "", "linux":
		return "linux"
	case "windows", "win":
		return "win"
	case "macos", "darwin", "osx":
		return "osx"
	}
	return s
}

// DownloadArch maps a pool's arch or a forge's spelling to GitHub's (x64,
// arm64, arm): Go and GARM say amd64, Linux says x86_64/aarch64.
func DownloadArch(s string) string {
	switch s = strings.ToLower(strings.TrimSpace(s)); s {
	case "", "x64", "amd64", "x86_64":
		return "x64"
	case "arm64", "aarch64":
		return "arm64"
	}
	return s
}

// Platform names a runner download the way GitHub's file names do
// ("linux-x64", "win-arm64").
func (t RunnerTool) Platform() string { return DownloadOS(t.OS) + "-" + DownloadArch(t.Architecture) }

// ErrNoRunnerTool: the forge publishes no runner for a pool's os_type and
// arch. Every machine of that pool will fail the same way until the pool or
// the forge's list changes, so callers treat it as the pool's fault, not the
// machine's.
var ErrNoRunnerTool = errors.New("the forge offers no runner download")

// PickRunnerTool chooses the download for a pool's os_type and arch from
// the list a forge publishes. No match is an error naming what the forge
// offers, since the fix is either the pool's os_type/arch or (Gitea,
// Forgejo) the forge's runner_downloads.
func PickRunnerTool(tools []RunnerTool, osType, arch string) (RunnerTool, error) {
	want := DownloadOS(osType) + "-" + DownloadArch(arch)
	for _, t := range tools {
		if t.Platform() == want {
			return t, nil
		}
	}
	offered := make([]string, 0, len(tools))
	for _, t := range tools {
		offered = append(offered, t.Platform())
	}
	slices.Sort(offered)
	offered = slices.Compact(offered)
	have := strings.Join(offered, ", ")
	if have == "" {
		have = "nothing"
	}
	return RunnerTool{}, fmt.Errorf("%w for os_type %q arch %q (%s); it offers %s: "+
		"set the pool's os_type/arch to one of those, or (Gitea/Forgejo) add a %s entry to the forge's runner_downloads",
		ErrNoRunnerTool, osType, arch, want, have, want)
}
