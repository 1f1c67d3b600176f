package main

import (
	"fmt"
	"os"
	"slices"
	"time"
)

// What garm-provider-lxd v0.1.4 does on real LXD, seen by a tester
// (Gitea 1.25.4 + garm-provider-lxd, 2026-11):
//   - the pool's flavor names an LXD profile; a missing one fails the create
//     with exit 30 (its not-found error, the code the protocol gives a
//     missing instance); a missing image alias fails it with exit 1;
//   - the container exists, listed "stopped", while LXD's create operation
//     runs; only then does the provider start it;
//   - deleting it meanwhile fails, exit 1, `Instance is busy running a
//     "create" operation`.
//
// Config: "profiles" / "images" (when set, the only ones that exist) and
// "create_delay" (how long the create operation runs).

// checkLXDRefs fails a create whose profile or image does not exist.
func (p *prov) checkLXDRefs(bi bootstrapInstance) error {
	if p.cfg.Profiles != nil && !slices.Contains(p.cfg.Profiles, bi.Flavor) {
		return failure{30, fmt.Sprintf("failed to run command: failed to create instance in provider: fetching profile %q: not found", bi.Flavor), true}
	}
	if p.cfg.Images != nil && !slices.Contains(p.cfg.Images, bi.Image) {
		return failure{1, fmt.Sprintf("failed to run command: failed to create instance in provider: fetching image %q: not found", bi.Image), true}
	}
	return nil
}

// lxdCreateOp records the container, stopped and busy with this create, for
// create_delay before the caller starts it.
func (p *prov) lxdCreateOp(mdir string, m machine) error {
	d, err := time.ParseDuration(p.cfg.CreateDelay)
	if err != nil || d <= 0 {
		return nil
	}
	m.CreatePID = os.Getpid()
	if err := save(mdir, m); err != nil {
		return err
	}
	time.Sleep(d)
	return nil
}

// busyCreating refuses to delete a container whose create operation is
// still running (its create call alive and the container not started yet).
func busyCreating(m machine) error {
	if m.CreatePID != 0 && m.PID == 0 && alive(m.CreatePID) {
		return failure{1, `failed to run command: failed to delete instance in provider: Instance is busy running a "create" operation`, true}
	}
	return nil
}
