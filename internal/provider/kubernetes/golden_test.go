package kubernetes

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clienttesting "k8s.io/client-go/testing"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite the golden manifests in testdata")

// sent returns the objects of a kind exactly as the provider sent them
// (before the fake server added a UID).
func sent(f *clienttesting.Fake, resource string) *[]runtime.Object {
	var out []runtime.Object
	f.PrependReactor("create", resource, func(a clienttesting.Action) (bool, runtime.Object, error) {
		out = append(out, a.(clienttesting.CreateAction).GetObject().DeepCopyObject())
		return false, nil, nil
	})
	return &out
}

// golden compares got with testdata/file, or rewrites it under -update.
func golden(t *testing.T, file string, obj any) []byte {
	t.Helper()
	got, err := yaml.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", file)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from what the provider sends (go test -update rewrites it):\n--- got\n%s", path, got)
	}
	return want
}

func TestGoldenPod(t *testing.T) {
	c := newCluster(t)
	pods := sent(c.core.Fake, "pods")
	p := c.provider(t, func(o *Options) {
		o.RuntimeClass, o.Boot = "kata", BootInstallScript
		o.NodeSelector = map[string]string{"node-role.example/ci": "true"}
	})
	spec := testSpec("paddock-golden")
	spec.CPU, spec.MemoryMB, spec.DiskGB = 2, 4096, 30
	if _, err := p.Create(t.Context(), spec); err != nil {
		t.Fatal(err)
	}
	if len(*pods) != 1 {
		t.Fatalf("sent %d pods", len(*pods))
	}
	want := golden(t, "pod.yaml", (*pods)[0])
	var pod corev1.Pod
	if err := strictDecode(want, &pod, func() (any, error) { return &pod, nil }); err != nil {
		t.Fatalf("pod.yaml is not a valid core/v1 Pod: %v", err)
	}
	mounts := map[string]bool{}
	for _, v := range pod.Spec.Volumes {
		mounts[v.Name] = true
	}
	for _, m := range pod.Spec.Containers[0].VolumeMounts {
		if !mounts[m.Name] {
			t.Errorf("mount %q has no volume", m.Name)
		}
	}
}

func TestGoldenVMI(t *testing.T) {
	c := newCluster(t)
	vmis := sent(&c.dyn.Fake, "virtualmachineinstances")
	p := c.provider(t, func(o *Options) {
		kubevirt(o)
		o.NodeSelector = map[string]string{"kubevirt.io/schedulable": "true"}
	})
	spec := testSpec("paddock-golden-vm")
	spec.CPU, spec.MemoryMB, spec.DiskGB = 4, 8192, 40
	spec.Image = "quay.io/containerdisks/ubuntu:24.04"
	if _, err := p.Create(t.Context(), spec); err != nil {
		t.Fatal(err)
	}
	if len(*vmis) != 1 {
		t.Fatalf("sent %d VMIs", len(*vmis))
	}
	want := golden(t, "vmi.yaml", (*vmis)[0])
	var vmi kubevirtv1.VirtualMachineInstance
	if err := strictVMI(want, &vmi); err != nil {
		t.Fatalf("vmi.yaml is not a valid kubevirt.io/v1 VirtualMachineInstance: %v", err)
	}
	// KubeVirt's admission rules: every disk has a volume, every interface a network.
	vols, nets := map[string]bool{}, map[string]bool{}
	for _, v := range vmi.Spec.Volumes {
		vols[v.Name] = true
	}
	for _, n := range vmi.Spec.Networks {
		nets[n.Name] = true
	}
	for _, d := range vmi.Spec.Domain.Devices.Disks {
		if !vols[d.Name] {
			t.Errorf("disk %q has no volume", d.Name)
		}
	}
	for _, i := range vmi.Spec.Domain.Devices.Interfaces {
		if !nets[i.Name] {
			t.Errorf("interface %q has no network", i.Name)
		}
	}
	if len(vmi.Spec.Domain.Devices.Disks) != len(vmi.Spec.Volumes) {
		t.Errorf("%d disks for %d volumes", len(vmi.Spec.Domain.Devices.Disks), len(vmi.Spec.Volumes))
	}
}

// The strict check is only worth something if it rejects what it should.
func TestStrictDecodeRejectsUnknownFields(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "vmi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(data), "  domain:\n    cpu:\n", "  domain:\n    cpus: 4\n    cpu:\n", 1)
	if bad == string(data) {
		t.Fatal("fixture has no domain.cpu to misspell")
	}
	var vmi kubevirtv1.VirtualMachineInstance
	if err := strictVMI([]byte(bad), &vmi); err == nil || !strings.Contains(err.Error(), "cpus") {
		t.Errorf("misspelt field accepted: %v", err)
	}
	bad = strings.Replace(string(data), "    pod: {}\n", "    pod: {cidr: 10.0.0.0/8}\n", 1)
	if err := strictVMI([]byte(bad), &vmi); err == nil || !strings.Contains(err.Error(), "cidr") {
		t.Errorf("unknown nested field accepted: %v", err)
	}
}

// strictDecode decodes a manifest into a Go API type and fails on any field
// the type does not have. yaml.UnmarshalStrict alone is not enough: KubeVirt's
// VirtualMachineInstanceSpec has its own UnmarshalJSON, which drops unknown
// fields silently. So the decoded object is encoded again (encode gives the
// wire form) and must hold every field of the manifest, with the same values.
func strictDecode(data []byte, into any, encode func() (any, error)) error {
	if err := yaml.UnmarshalStrict(data, into); err != nil {
		return err
	}
	var orig, back map[string]any
	if err := yaml.Unmarshal(data, &orig); err != nil {
		return err
	}
	enc, err := encode()
	if err != nil {
		return err
	}
	b, err := json.Marshal(enc)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &back); err != nil {
		return err
	}
	if diff := mapDiff("", orig, back); diff != "" {
		return fmt.Errorf("not preserved by the Go type (unknown or mistyped field): %s", diff)
	}
	return nil
}

func strictVMI(data []byte, vmi *kubevirtv1.VirtualMachineInstance) error {
	return strictDecode(data, vmi, func() (any, error) {
		u, err := toUnstructured(vmi)
		if err != nil {
			return nil, err
		}
		return u.Object, nil
	})
}

// mapDiff names the first path where two decoded JSON values differ.
func mapDiff(path string, a, b any) string {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		keys := map[string]bool{}
		for k := range am {
			keys[k] = true
		}
		for k := range bm {
			keys[k] = true
		}
		for _, k := range slices.Sorted(maps.Keys(keys)) {
			if d := mapDiff(path+"."+k, am[k], bm[k]); d != "" {
				return d
			}
		}
		return ""
	}
	al, aok := a.([]any)
	bl, bok := b.([]any)
	if aok && bok && len(al) == len(bl) {
		for i := range al {
			if d := mapDiff(fmt.Sprintf("%s[%d]", path, i), al[i], bl[i]); d != "" {
				return d
			}
		}
		return ""
	}
	if !reflect.DeepEqual(a, b) {
		return fmt.Sprintf("%s: manifest has %v, the type keeps %v", path, a, b)
	}
	return ""
}
