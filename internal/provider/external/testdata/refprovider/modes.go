package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The behaviours below are what testers met with published providers
// (garm-provider-lxd v0.1.4 on real LXD), so the manager is tested against
// them rather than against an idealised executable.

const basePath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

var (
	v010Commands = []string{"CreateInstance", "DeleteInstance", "GetInstance", "ListInstances", "RemoveAllInstances",
		"StartInstance", "StopInstance", "GetVersion"}
	v011Commands = append(slices.Clone(v010Commands), "GetSupportedInterfaceVersions", "ValidatePoolInfo",
		"GetConfigJSONSchema", "GetExtraSpecsJSONSchema")
)

// onlyV010 answers as an executable whose provider implements only
// garm-provider-common's v0.1.0 interface: the environment is validated for
// the requested version (log.Fatal, exit 1, on failure), then a v0.1.1 run
// fails with "provider does not implement v0.1.1 ExternalProvider".
func onlyV010(cmd, version string) error {
	fatal := func(msg string) error {
		return failure{1, time.Now().Format("2006/01/02 15:04:05") + " " + msg + "\n", true}
	}
	switch version {
	case "", "v0.1.0":
		if !slices.Contains(v010Commands, cmd) {
			return fatal("failed to validate execution environment: unknown GARM_COMMAND: " + cmd)
		}
		return nil
	case "v0.1.1":
		if !slices.Contains(v011Commands, cmd) {
			return fatal("failed to validate execution environment: unknown GARM_COMMAND: " + cmd)
		}
		return failure{1, "failed to run command: provider does not implement v0.1.1 ExternalProvider", true}
	}
	return fatal("unsupported interface version: " + version)
}

// duplicate answers a create of a name that exists: exit 31 as the protocol
// says, or (duplicate: plain) as garm-provider-lxd does.
func (p *prov) duplicate(name string) error {
	if p.cfg.Duplicate == "plain" {
		return failure{1, `failed to run command: failed to create instance in provider: creating instance: This "instances" entry already exists`, true}
	}
	return failure{31, fmt.Sprintf("instance %s already exists", name), false}
}

// bootArgv is the machine's init: the boot script, after boot_delay.
func (p *prov) bootArgv(mdir string) []string {
	boot := filepath.Join(mdir, "boot.sh")
	if p.cfg.BootDelay == "" {
		return []string{"/bin/bash", boot}
	}
	d, err := time.ParseDuration(p.cfg.BootDelay)
	if err != nil || d < 0 {
		d = 0
	}
	return []string{"/bin/sh", "-c", `sleep "$1"; exec /bin/bash "$2"`, "sh", fmt.Sprintf("%.3f", d.Seconds()), boot}
}

// machinePath puts a curl shim first on the machine's PATH: it records the
// exit code of the machine's first call, so CreateInstance can wait for it
// (wait_for_callback), as providers that wait for their machine to come up
// return after the machine may already have called the manager.
func machinePath(mdir string) string {
	real := "" // the provider's own environment has no PATH: look where the machine will
	for _, d := range filepath.SplitList(basePath) {
		if st, err := os.Stat(filepath.Join(d, "curl")); err == nil && st.Mode()&0o111 != 0 {
			real = filepath.Join(d, "curl")
			break
		}
	}
	if real == "" {
		return basePath
	}
	shim := filepath.Join(mdir, "bin")
	script := fmt.Sprintf(`#!/bin/sh
%q "$@"
rc=$?
[ -e %[2]q ] || echo "$rc" > %[2]q
exit $rc
`, real, filepath.Join(mdir, "first-call"))
	if os.MkdirAll(shim, 0o700) != nil || os.WriteFile(filepath.Join(shim, "curl"), []byte(script), 0o700) != nil {
		return basePath
	}
	return shim + ":" + basePath
}

// waitForCallback holds CreateInstance until the machine's first call to the
// manager has completed (whatever its outcome: a real provider does not
// know), or 60 s passed.
func (p *prov) waitForCallback(mdir string) error {
	if !p.cfg.WaitForCallback {
		return nil
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(filepath.Join(mdir, "first-call")); err == nil && strings.TrimSpace(string(b)) != "" {
			// A provider polling its cloud API notices the machine later
			// still: meanwhile the machine goes on with its install.
			if d, err := time.ParseDuration(p.cfg.CreateLinger); err == nil && d > 0 {
				time.Sleep(d)
			}
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("machine made no call to the manager within 60s")
}

// modesByName lets a test pick a mode with no config file of its own (the
// demo writes the config): run the executable through a link whose name
// holds "v010" (v0.1.0 only) or "lxdlike" (v0.1.0 only, plain duplicates,
// a create operation during which the container is stopped and busy,
// callback before create returns, a slow boot).
func modesByName(cfg *config) {
	name := filepath.Base(os.Args[0])
	switch {
	case strings.Contains(name, "lxdlike"):
		cfg.Interface = cmpOr(cfg.Interface, "v0.1.0")
		cfg.Duplicate = cmpOr(cfg.Duplicate, "plain")
		cfg.BootDelay = cmpOr(cfg.BootDelay, "500ms")
		cfg.WaitForCallback = true
		cfg.CreateLinger = cmpOr(cfg.CreateLinger, "2s")
		cfg.CreateDelay = cmpOr(cfg.CreateDelay, "1s")
	case strings.Contains(name, "v010"):
		cfg.Interface = cmpOr(cfg.Interface, "v0.1.0")
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
