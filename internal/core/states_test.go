package core

import (
	"errors"
	"testing"
)

// The tables are the specification; these tests pin them down exhaustively
// and check the properties the rest of Paddock relies on.

func TestInstanceTransitionsExhaustive(t *testing.T) {
	allowed := map[[2]InstanceState]bool{}
	for from, tos := range instanceTransitions {
		for _, to := range tos {
			allowed[[2]InstanceState{from, to}] = true
		}
	}
	for _, from := range InstanceStates {
		for _, to := range InstanceStates {
			want := from == to || allowed[[2]InstanceState{from, to}]
			if got := from.CanTransition(to); got != want {
				t.Errorf("%s → %s: CanTransition = %v, want %v", from, to, got, want)
			}
			err := CheckInstanceTransition(from, to)
			var te *ErrTransition
			if want != (err == nil) || (err != nil && !errors.As(err, &te)) {
				t.Errorf("%s → %s: CheckInstanceTransition = %v", from, to, err)
			}
		}
	}
	if CheckInstanceTransition(InstanceRunning, "bogus") == nil {
		t.Error("unknown target state accepted")
	}
}

func reachable[S comparable](start S, table map[S][]S) map[S]bool {
	seen := map[S]bool{start: true}
	queue := []S{start}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for _, n := range table[s] {
			if !seen[n] {
				seen[n] = true
				queue = append(queue, n)
			}
		}
	}
	return seen
}

func TestInstanceStateMachineShape(t *testing.T) {
	if len(instanceTransitions[InstanceDeleted]) != 0 {
		t.Error("deleted must be terminal")
	}
	for _, s := range InstanceStates {
		if !s.Valid() {
			t.Errorf("%s not valid", s)
		}
		// No instance can get stuck: deleted is reachable from everywhere.
		if !reachable(s, instanceTransitions)[InstanceDeleted] {
			t.Errorf("deleted unreachable from %s: an instance could be stranded", s)
		}
		if !reachable(InstancePendingCreate, instanceTransitions)[s] {
			t.Errorf("%s unreachable from pending_create", s)
		}
	}
	// Every way to deleted passes through deleting: the provider confirmed it.
	for from, tos := range instanceTransitions {
		for _, to := range tos {
			if to == InstanceDeleted && from != InstanceDeleting {
				t.Errorf("%s → deleted skips the provider delete", from)
			}
		}
	}
	if InstanceDeleted.Live() || !InstancePendingDelete.Live() {
		t.Error("Live: deleted instances free capacity, deleting ones do not")
	}
}

func TestRunnerTransitionsExhaustive(t *testing.T) {
	allowed := map[[2]RunnerState]bool{}
	for from, tos := range runnerTransitions {
		for _, to := range tos {
			allowed[[2]RunnerState{from, to}] = true
		}
	}
	for _, from := range RunnerStates {
		for _, to := range RunnerStates {
			want := from == to || allowed[[2]RunnerState{from, to}]
			if got := from.CanTransition(to); got != want {
				t.Errorf("runner %s → %s = %v, want %v", from, to, got, want)
			}
			if (CheckRunnerTransition(from, to) == nil) != want {
				t.Errorf("CheckRunnerTransition(%s, %s) disagrees", from, to)
			}
		}
	}
	// One job per machine: a runner never goes back to idle once it was active.
	for _, s := range []RunnerState{RunnerActive, RunnerDone, RunnerFailed} {
		if reachable(s, runnerTransitions)[RunnerIdle] {
			t.Errorf("runner can return to idle from %s", s)
		}
	}
	if !RunnerActive.Busy() || RunnerIdle.Busy() {
		t.Error("Busy must be exactly the active state")
	}
}

func TestJobTransitionsExhaustive(t *testing.T) {
	order := map[JobState]int{JobQueued: 0, JobInProgress: 1, JobCompleted: 2}
	for _, from := range JobStates {
		for _, to := range JobStates {
			// Jobs only move forward; out-of-order webhooks are ignored.
			want := order[to] >= order[from]
			if got := from.CanTransition(to); got != want {
				t.Errorf("job %s → %s = %v, want %v", from, to, got, want)
			}
		}
	}
	if JobState("waiting").Valid() {
		t.Error("unknown job state valid")
	}
}

func TestCredentialRedaction(t *testing.T) {
	c := Credential{Kind: CredentialApp, Token: "ghp_x", PrivateKeyPEM: "-----BEGIN", AppID: 3}
	r := c.Redacted()
	if r.Token != "***" || r.PrivateKeyPEM != "***" || r.AppID != 3 || c.Token != "ghp_x" {
		t.Fatalf("redacted = %+v (original %+v)", r, c)
	}
	if (Credential{}).Redacted().Token != "" {
		t.Fatal("empty token must stay empty (nothing to hide)")
	}
}

func TestEntityNameParts(t *testing.T) {
	e := Entity{Name: "acme/app"}
	if e.Owner() != "acme" || e.Repo() != "app" {
		t.Fatalf("%s %s", e.Owner(), e.Repo())
	}
}
