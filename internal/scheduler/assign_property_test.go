package scheduler

import (
	"fmt"
	"testing"

	"github.com/paddock-ci/paddock/internal/core"
	"pgregory.net/rapid"
)

// Assign over random shared snapshots plus waiting machines: no machine or
// job is assigned twice, only waiting machines are assigned, each to a job
// its pool serves, and no tenant ends over max_machines or max_vcpu because
// of an assignment.
func TestAssignProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := genShareSnapshot(t)
		for i := range rapid.IntRange(0, 6).Draw(t, "waiting") {
			in := waiter(fmt.Sprintf("w%02d", i), rapid.SampledFrom(s.Pools).Draw(t, "w_pool").Name, 0,
				cpus(rapid.IntRange(0, 4).Draw(t, "w_cpu")))
			if rapid.Bool().Draw(t, "w_spent") {
				in.TokenUsed = true
			}
			s.Instances = append(s.Instances, in)
		}
		got := Assign(s)
		byName := map[string]*core.Instance{}
		for i := range s.Instances {
			byName[s.Instances[i].Name] = &s.Instances[i]
		}
		d := &decider{}
		d.initShare(s)
		held := map[string]int{}
		vcpus := map[string]int{}
		for i := range s.Instances {
			in := &s.Instances[i]
			if Waiting(in) {
				continue
			}
			e := in.EntityID
			if e == "" {
				for _, p := range s.Pools {
					if p.ID == in.PoolID {
						e = p.EntityID
					}
				}
			}
			held[d.tenantFor(e).name]++
			vcpus[d.tenantFor(e).name] += vcpu(in.CPU)
		}
		m := newMatcher(s.Pools, s.LabelRules, d.tenantOf)
		seenInst, seenJob := map[string]bool{}, map[string]bool{}
		for _, a := range got {
			jk := fmt.Sprintf("%s/%d", a.EntityID, a.JobID)
			if seenInst[a.InstanceName] || seenJob[jk] {
				t.Fatalf("assigned twice: %+v in %+v", a, got)
			}
			seenInst[a.InstanceName], seenJob[jk] = true, true
			in := byName[a.InstanceName]
			if in == nil || !Waiting(in) {
				t.Fatalf("assigned a machine that does not wait: %+v", a)
			}
			var job *core.Job
			for k := range s.Jobs {
				if s.Jobs[k].ID == a.JobID && s.Jobs[k].EntityID == a.EntityID {
					job = &s.Jobs[k]
				}
			}
			if job == nil {
				t.Fatalf("assigned an unknown job: %+v", a)
			}
			served := false
			for _, f := range m.matchJob(job.EntityID, job.Labels).found {
				if s.Pools[f.pool].ID == in.PoolID {
					served = true
				}
			}
			if !served {
				t.Fatalf("machine %s of pool %s does not serve job %+v", in.Name, in.PoolID, job)
			}
			tn := d.tenantFor(a.EntityID)
			held[tn.name]++
			vcpus[tn.name] += vcpu(in.CPU)
			if tn.maxMachines > 0 && held[tn.name] > tn.maxMachines {
				t.Fatalf("tenant %s over max_machines %d after %+v", tn.name, tn.maxMachines, a)
			}
			if tn.maxVCPU > 0 && vcpus[tn.name] > tn.maxVCPU {
				t.Fatalf("tenant %s over max_vcpu %d after %+v", tn.name, tn.maxVCPU, a)
			}
		}
	})
}
