package kubernetes

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"github.com/paddock-ci/paddock/internal/provider"
)

func kubevirt(o *Options) { o.Mode = ModeKubeVirt }

func (c *cluster) vmi(t *testing.T, name string) (*unstructured.Unstructured, *kubevirtv1.VirtualMachineInstance) {
	t.Helper()
	u, err := c.dyn.Resource(VMIResource).Namespace("runners").Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var vmi kubevirtv1.VirtualMachineInstance
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &vmi); err != nil {
		t.Fatal(err)
	}
	return u, &vmi
}

func TestVMICreate(t *testing.T) {
	c := newCluster(t)
	p := c.provider(t, func(o *Options) {
		kubevirt(o)
		o.ImagePullSecrets = []string{"regcred"}
		o.Tolerations = []corev1.Toleration{{Key: "kvm", Operator: corev1.TolerationOpExists}}
	})
	spec := testSpec("vm-r1")
	spec.CPU, spec.MemoryMB, spec.DiskGB = 4, 8192, 50
	m, err := p.Create(t.Context(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "vm-r1" || m.PoolID != "pool-7" || m.Status != provider.StatusRunning {
		t.Errorf("machine = %+v", m)
	}
	u, vmi := c.vmi(t, "vm-r1")
	if vmi.Labels[labelController] != controllerID || vmi.Annotations[annotInstanceName] != "vm-r1" {
		t.Errorf("labels %v annotations %v", vmi.Labels, vmi.Annotations)
	}
	d := vmi.Spec.Domain
	if d.CPU == nil || d.CPU.Cores != 4 || d.Resources.Requests.Memory().String() != "8Gi" || d.Memory == nil || d.Memory.Guest.String() != "8Gi" {
		t.Errorf("size: cpu %+v resources %+v memory %+v", d.CPU, d.Resources, d.Memory)
	}
	vols := map[string]kubevirtv1.VolumeSource{}
	for _, v := range vmi.Spec.Volumes {
		vols[v.Name] = v.VolumeSource
	}
	if cd := vols["rootdisk"].ContainerDisk; cd == nil || cd.Image != spec.Image || cd.ImagePullSecret != "regcred" {
		t.Errorf("root disk = %+v", vols["rootdisk"])
	}
	if ci := vols["cloudinitdisk"].CloudInitNoCloud; ci == nil || ci.UserDataSecretRef == nil || ci.UserDataSecretRef.Name != "vm-r1-boot" ||
		ci.UserData != "" || ci.UserDataBase64 != "" {
		t.Errorf("cloud-init = %+v (want user-data only by secretRef)", ci)
	}
	if ed := vols["scratch"].EmptyDisk; ed == nil || ed.Capacity.String() != "50Gi" {
		t.Errorf("scratch = %+v", vols["scratch"])
	}
	sec, err := c.core.Secrets("runners").Get(t.Context(), "vm-r1-boot", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ud := string(sec.Data["userdata"])
	if len(sec.Data) != 1 || !strings.HasPrefix(ud, "#!/bin/bash\n") || !strings.Contains(ud, "export PADDOCK_INSTANCE_TOKEN='inst-token-vm-r1'") ||
		!strings.Contains(ud, "export PADDOCK_METADATA_URL='"+spec.MetadataURL+"'") || !strings.Contains(ud, "/install-script/") {
		t.Errorf("user-data secret = %q", sec.Data)
	}
	if o := sec.OwnerReferences; len(o) != 1 || o[0].Kind != "VirtualMachineInstance" || o[0].APIVersion != "kubevirt.io/v1" ||
		o[0].UID != u.GetUID() || u.GetUID() == "" {
		t.Errorf("secret owners = %+v, VMI UID %q", o, u.GetUID())
	}
}

func TestVMIFromPVC(t *testing.T) {
	c := newCluster(t)
	p := c.provider(t, func(o *Options) { kubevirt(o); o.Image = "pvc:ubuntu-2404-golden" })
	spec := testSpec("vm-pvc")
	spec.Image = ""
	if _, err := p.Create(t.Context(), spec); err != nil {
		t.Fatal(err)
	}
	_, vmi := c.vmi(t, "vm-pvc")
	root := vmi.Spec.Volumes[0]
	if root.Name != "rootdisk" || root.Ephemeral == nil || root.Ephemeral.PersistentVolumeClaim == nil ||
		root.Ephemeral.PersistentVolumeClaim.ClaimName != "ubuntu-2404-golden" || !root.Ephemeral.PersistentVolumeClaim.ReadOnly || root.ContainerDisk != nil {
		t.Errorf("root volume = %+v (want an ephemeral overlay of the golden PVC)", root)
	}
	if c := vmi.Spec.Volumes[2].EmptyDisk; c == nil || c.Capacity.String() != "10Gi" {
		t.Errorf("default scratch = %+v", c)
	}
}

// (Idempotence, listing by controller, deletes of missing VMIs:
// TestConformance/kubevirt.) Delete removes the VMI and its secret, in the
// foreground and only the object it read.
func TestVMIDeleteRemovesTheSecretToo(t *testing.T) {
	c := newCluster(t)
	rec := &recorder{Interface: c.dyn}
	p := c.provider(t, func(o *Options) { kubevirt(o); o.Dynamic = rec })
	if _, err := p.Create(t.Context(), testSpec("vm-a")); err != nil {
		t.Fatal(err)
	}
	if err := p.Delete(t.Context(), "vm-a"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.core.Secrets("runners").Get(t.Context(), "vm-a-boot", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("secret after delete: %v", err)
	}
	// The dynamic fake drops delete options; the recorder keeps them.
	if len(rec.deletes) != 1 || rec.deletes[0].PropagationPolicy == nil || *rec.deletes[0].PropagationPolicy != metav1.DeletePropagationForeground ||
		rec.deletes[0].Preconditions == nil || rec.deletes[0].Preconditions.UID == nil {
		t.Errorf("VMI delete options = %+v", rec.deletes)
	}
	if d := c.deletes(); len(d) != 2 || d[0].Resource.Resource != "secrets" || *d[0].DeleteOptions.PropagationPolicy != metav1.DeletePropagationForeground {
		t.Errorf("deletes = %+v (want the VMI and its secret)", d)
	}
}

// recorder wraps a dynamic client to keep the options of each Delete.
type recorder struct {
	dynamic.Interface
	deletes []metav1.DeleteOptions
}

func (r *recorder) Resource(gvr schema.GroupVersionResource) dynamic.NamespaceableResourceInterface {
	return recNamespaceable{r.Interface.Resource(gvr), r}
}

type recNamespaceable struct {
	dynamic.NamespaceableResourceInterface
	r *recorder
}

func (n recNamespaceable) Namespace(ns string) dynamic.ResourceInterface {
	return recResource{n.NamespaceableResourceInterface.Namespace(ns), n.r}
}

type recResource struct {
	dynamic.ResourceInterface
	r *recorder
}

func (x recResource) Delete(ctx context.Context, name string, o metav1.DeleteOptions, sub ...string) error {
	x.r.deletes = append(x.r.deletes, o)
	return x.ResourceInterface.Delete(ctx, name, o, sub...)
}

func TestVMIStatus(t *testing.T) {
	c := newCluster(t)
	p := c.provider(t, kubevirt)
	cases := []struct {
		phase kubevirtv1.VirtualMachineInstancePhase
		conds []kubevirtv1.VirtualMachineInstanceCondition
		want  provider.Status
		fault string
	}{
		{kubevirtv1.Scheduling, nil, provider.StatusRunning, ""},
		{kubevirtv1.Running, nil, provider.StatusRunning, ""},
		{kubevirtv1.Succeeded, nil, provider.StatusStopped, ""},
		{kubevirtv1.Failed, []kubevirtv1.VirtualMachineInstanceCondition{{Type: kubevirtv1.VirtualMachineInstanceReady,
			Status: corev1.ConditionFalse, Reason: "GuestNotRunning", Message: "guest crashed"}},
			provider.StatusError, "virtual machine failed: Ready GuestNotRunning: guest crashed"},
		{kubevirtv1.Unknown, nil, provider.StatusUnknown, ""},
	}
	for i, tc := range cases {
		name := "vm-s" + string(rune('a'+i))
		if _, err := p.Create(t.Context(), testSpec(name)); err != nil {
			t.Fatal(err)
		}
		u, vmi := c.vmi(t, name)
		vmi.Status = kubevirtv1.VirtualMachineInstanceStatus{Phase: tc.phase, Conditions: tc.conds}
		b, err := json.Marshal(vmi)
		if err != nil {
			t.Fatal(err)
		}
		if err := u.UnmarshalJSON(b); err != nil {
			t.Fatal(err)
		}
		if _, err := c.dyn.Resource(VMIResource).Namespace("runners").UpdateStatus(t.Context(), u, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		m, err := p.Get(t.Context(), name)
		if err != nil || m.Status != tc.want || m.Fault != tc.fault {
			t.Errorf("%s: %+v, %v; want %s %q", tc.phase, m, err, tc.want, tc.fault)
		}
	}
}
