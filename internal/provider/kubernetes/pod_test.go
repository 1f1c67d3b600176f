package kubernetes

import (
	"errors"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/paddock-ci/paddock/internal/provider"
)

func TestPodCreateBuildsAHardenedPod(t *testing.T) {
	c := newCluster(t)
	p := c.provider(t, func(o *Options) {
		o.RuntimeClass = "gvisor"
		o.ImagePullSecrets = []string{"regcred"}
		o.NodeSelector = map[string]string{"kubernetes.io/arch": "amd64"}
		o.Tolerations = []corev1.Toleration{{Key: "ci", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}
	})
	spec := testSpec("paddock-r1")
	spec.CPU, spec.MemoryMB, spec.DiskGB = 2, 3072, 20
	m, err := p.Create(t.Context(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "paddock-r1" || m.PoolID != "pool-7" || m.Status != provider.StatusRunning || m.ProviderID != "runners/paddock-r1" {
		t.Errorf("machine = %+v", m)
	}
	pod, err := c.core.Pods("runners").Get(t.Context(), "paddock-r1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ps := pod.Spec
	if ps.RestartPolicy != corev1.RestartPolicyNever || ps.AutomountServiceAccountToken == nil || *ps.AutomountServiceAccountToken ||
		ps.EnableServiceLinks == nil || *ps.EnableServiceLinks {
		t.Errorf("restart %q, automount %v, service links %v", ps.RestartPolicy, ps.AutomountServiceAccountToken, ps.EnableServiceLinks)
	}
	if ps.RuntimeClassName == nil || *ps.RuntimeClassName != "gvisor" || ps.NodeSelector["kubernetes.io/arch"] != "amd64" ||
		len(ps.Tolerations) != 1 || len(ps.ImagePullSecrets) != 1 || ps.ImagePullSecrets[0].Name != "regcred" {
		t.Errorf("placement: %+v %+v %+v %+v", ps.RuntimeClassName, ps.NodeSelector, ps.Tolerations, ps.ImagePullSecrets)
	}
	sc := ps.SecurityContext
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser != 1001 ||
		sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod securityContext = %+v", sc)
	}
	ct := ps.Containers[0]
	csc := ct.SecurityContext
	if csc == nil || csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation || csc.Privileged == nil || *csc.Privileged ||
		csc.Capabilities == nil || !slices.Equal(csc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(csc.Capabilities.Add) != 0 ||
		csc.RunAsNonRoot == nil || !*csc.RunAsNonRoot {
		t.Errorf("container securityContext = %+v", csc)
	}
	if ct.Image != spec.Image || !slices.Equal(ct.Command, []string{"paddock", "machine-boot"}) || ct.WorkingDir != "/workspace" {
		t.Errorf("image %q command %q dir %q", ct.Image, ct.Command, ct.WorkingDir)
	}
	for _, r := range []corev1.ResourceList{ct.Resources.Requests, ct.Resources.Limits} {
		if r.Cpu().String() != "2" || r.Memory().String() != "3Gi" {
			t.Errorf("resources = %v (want cpu 2, memory 3Gi as both requests and limits)", r)
		}
	}
	if v := ps.Volumes[0]; v.EmptyDir == nil || v.EmptyDir.SizeLimit == nil || v.EmptyDir.SizeLimit.String() != "20Gi" {
		t.Errorf("workspace volume = %+v", v)
	}
	env := map[string]corev1.EnvVar{}
	for _, e := range ct.Env {
		env[e.Name] = e
	}
	tok := env["PADDOCK_INSTANCE_TOKEN"]
	if tok.Value != "" || tok.ValueFrom == nil || tok.ValueFrom.SecretKeyRef == nil ||
		tok.ValueFrom.SecretKeyRef.Name != "paddock-r1-boot" || tok.ValueFrom.SecretKeyRef.Key != "token" {
		t.Errorf("token env = %+v (want a secretKeyRef, never a literal)", tok)
	}
	if env["PADDOCK_METADATA_URL"].Value != spec.MetadataURL || env["PADDOCK_CALLBACK_URL"].Value != spec.CallbackURL {
		t.Errorf("env = %+v", env)
	}
	if pod.Labels[labelController] != controllerID || pod.Labels[labelPool] != "pool-7" ||
		pod.Labels[labelInstance] != "paddock-r1" || pod.Annotations[annotInstanceName] != "paddock-r1" {
		t.Errorf("labels %v annotations %v", pod.Labels, pod.Annotations)
	}
	// The Secret holds the token and nothing else, and belongs to the Pod.
	sec, err := c.core.Secrets("runners").Get(t.Context(), "paddock-r1-boot", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(sec.Data) != 1 || string(sec.Data["token"]) != spec.Token || len(sec.StringData) != 0 {
		t.Errorf("secret data = %q", sec.Data)
	}
	if len(sec.OwnerReferences) != 1 || sec.OwnerReferences[0].UID != pod.UID || pod.UID == "" || sec.OwnerReferences[0].Kind != "Pod" {
		t.Errorf("secret owners = %+v, pod UID %q", sec.OwnerReferences, pod.UID)
	}
}

func TestNoForgeCredentialReachesTheCluster(t *testing.T) {
	t.Setenv("GITHUB_TOKEN", fakePAT)
	t.Setenv("PADDOCK_GITHUB_TOKEN", fakePAT)
	c := newCluster(t)
	for _, mode := range []string{ModePod, ModeKubeVirt} {
		for _, boot := range []string{BootPaddock, BootInstallScript} {
			if mode == ModeKubeVirt && boot == BootInstallScript {
				continue
			}
			p := c.provider(t, func(o *Options) { o.Mode, o.Boot = mode, boot })
			spec := testSpec("leak-" + mode + "-" + strings.ReplaceAll(boot, "-", ""))
			spec.Labels = append(spec.Labels, "token="+fakePAT[:4]) // harmless label text must not confuse the check
			if _, err := p.Create(t.Context(), spec); err != nil {
				t.Fatal(err)
			}
		}
	}
	all := c.everything(t)
	if strings.Contains(all, fakePAT) || strings.Contains(all, "github_token") {
		t.Fatalf("a forge credential reached the cluster:\n%s", all)
	}
	secrets, err := c.core.Secrets("runners").List(t.Context(), metav1.ListOptions{})
	if err != nil || len(secrets.Items) != 3 {
		t.Fatalf("secrets: %v, %v", secrets, err)
	}
	for _, s := range secrets.Items {
		if len(s.Data) != 1 {
			t.Errorf("secret %s has keys %v, want exactly one", s.Name, s.Data)
		}
		for k, v := range s.Data {
			if (k != "token" && k != "userdata") || !strings.Contains(string(v), "inst-token-leak-") {
				t.Errorf("secret %s: key %q holds %q", s.Name, k, v)
			}
		}
	}
}

func TestPodCreateIsIdempotent(t *testing.T) {
	c := newCluster(t)
	p := c.provider(t, nil)
	spec := testSpec("paddock-r2")
	first, err := p.Create(t.Context(), spec)
	if err != nil {
		t.Fatal(err)
	}
	spec.Token = "a-later-token"
	again, err := p.Create(t.Context(), spec)
	if err != nil || again != first {
		t.Fatalf("second create = %+v, %v; want %+v", again, err, first)
	}
	pods, _ := c.core.Pods("runners").List(t.Context(), metav1.ListOptions{})
	sec, _ := c.core.Secrets("runners").Get(t.Context(), "paddock-r2-boot", metav1.GetOptions{})
	if len(pods.Items) != 1 || string(sec.Data["token"]) != "inst-token-paddock-r2" {
		t.Errorf("%d pods, token %q: the running machine's token must not change", len(pods.Items), sec.Data["token"])
	}
}

func TestPodCreateAfterInterruptedCreate(t *testing.T) {
	c := newCluster(t)
	p := c.provider(t, nil)
	spec := testSpec("paddock-r3")
	// A Create that stopped after writing the Secret left this behind.
	stale := &corev1.Secret{ObjectMeta: p.meta(spec.Name, spec.PoolID), Data: map[string][]byte{"token": []byte("old")}}
	stale.Name = "paddock-r3-boot"
	if _, err := c.core.Secrets("runners").Create(t.Context(), stale, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Create(t.Context(), spec); err != nil {
		t.Fatal(err)
	}
	sec, _ := c.core.Secrets("runners").Get(t.Context(), "paddock-r3-boot", metav1.GetOptions{})
	pod, _ := c.core.Pods("runners").Get(t.Context(), "paddock-r3", metav1.GetOptions{})
	if string(sec.Data["token"]) != spec.Token || len(sec.OwnerReferences) != 1 || sec.OwnerReferences[0].UID != pod.UID {
		t.Errorf("secret token %q owners %+v", sec.Data["token"], sec.OwnerReferences)
	}
}

func TestPodOfAnotherControllerIsLeftAlone(t *testing.T) {
	c := newCluster(t)
	mine := c.provider(t, nil)
	theirs := c.provider(t, func(o *Options) { o.ControllerID = "other-controller" })
	if _, err := theirs.Create(t.Context(), testSpec("shared-name")); err != nil {
		t.Fatal(err)
	}
	if _, err := theirs.Create(t.Context(), testSpec("theirs-only")); err != nil {
		t.Fatal(err)
	}
	if _, err := mine.Create(t.Context(), testSpec("mine")); err != nil {
		t.Fatal(err)
	}
	// Same label value as ours but another controller's exact ID: a label
	// collision must not make it ours.
	forged := &corev1.Pod{ObjectMeta: mine.meta("forged", "p")}
	forged.Annotations[annotController] = "someone-else"
	if _, err := c.core.Pods("runners").Create(t.Context(), forged, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	list, err := mine.List(t.Context())
	if err != nil || len(list) != 1 || list[0].Name != "mine" {
		t.Fatalf("List = %+v, %v; want only mine", list, err)
	}
	if _, err := mine.Create(t.Context(), testSpec("shared-name")); err == nil || !strings.Contains(err.Error(), "not this controller's") {
		t.Errorf("create over another controller's pod: %v", err)
	}
	if _, err := mine.Get(t.Context(), "shared-name"); !errors.Is(err, provider.ErrNotFound) {
		t.Errorf("get of another controller's pod: %v, want ErrNotFound", err)
	}
	if err := mine.Delete(t.Context(), "shared-name"); err != nil {
		t.Fatal(err)
	}
	if _, err := theirs.Get(t.Context(), "shared-name"); err != nil {
		t.Errorf("another controller's pod was deleted: %v", err)
	}
}

// (Deletes of missing pods, twice: TestConformance/pod.)
func TestPodDelete(t *testing.T) {
	c := newCluster(t)
	p := c.provider(t, nil)
	if _, err := p.Create(t.Context(), testSpec("paddock-r4")); err != nil {
		t.Fatal(err)
	}
	if err := p.Delete(t.Context(), "paddock-r4"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.core.Secrets("runners").Get(t.Context(), "paddock-r4-boot", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("secret after delete: %v", err)
	}
	dels := c.deletes()
	if len(dels) != 2 {
		t.Fatalf("deletes = %+v", dels)
	}
	for _, d := range dels {
		o := d.DeleteOptions
		if o.PropagationPolicy == nil || *o.PropagationPolicy != metav1.DeletePropagationForeground ||
			o.Preconditions == nil || o.Preconditions.UID == nil || *o.Preconditions.UID == "" {
			t.Errorf("delete %s %s options = %+v", d.Resource.Resource, d.Name, o)
		}
	}
}

func TestPodStatus(t *testing.T) {
	c := newCluster(t)
	p := c.provider(t, nil)
	cases := []struct {
		name   string
		status corev1.PodStatus
		want   provider.Status
		fault  string
	}{
		{"pending", corev1.PodStatus{Phase: corev1.PodPending}, provider.StatusRunning, ""},
		{"pull-backoff", corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{Name: "runner",
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: "no such image"}}}}},
			provider.StatusRunning, "container runner: ImagePullBackOff: no such image"},
		{"running", corev1.PodStatus{Phase: corev1.PodRunning}, provider.StatusRunning, ""},
		{"done", corev1.PodStatus{Phase: corev1.PodSucceeded}, provider.StatusStopped, ""},
		{"crashed", corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{{Name: "runner",
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 3, Reason: "Error", Message: "boot failed"}}}}},
			provider.StatusError, "container runner: Error (exit code 3): boot failed"},
		{"evicted", corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted", Message: "node low on memory"},
			provider.StatusError, "pod failed: Evicted: node low on memory"},
		{"unknown", corev1.PodStatus{Phase: corev1.PodUnknown}, provider.StatusUnknown, ""},
	}
	for _, tc := range cases {
		if _, err := p.Create(t.Context(), testSpec(tc.name)); err != nil {
			t.Fatal(err)
		}
		pod, _ := c.core.Pods("runners").Get(t.Context(), tc.name, metav1.GetOptions{})
		pod.Status = tc.status
		if _, err := c.core.Pods("runners").UpdateStatus(t.Context(), pod, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		m, err := p.Get(t.Context(), tc.name)
		if err != nil || m.Status != tc.want || m.Fault != tc.fault {
			t.Errorf("%s: %+v, %v; want %s %q", tc.name, m, err, tc.want, tc.fault)
		}
	}
	list, err := p.List(t.Context())
	if err != nil || len(list) != len(cases) {
		t.Errorf("List = %d machines, %v", len(list), err)
	}
}

func TestSizeAndImage(t *testing.T) {
	c := newCluster(t)
	p := c.provider(t, func(o *Options) {
		o.Flavors = map[string]Flavor{"large": {CPU: 4, MemoryMB: 8192}}
		o.Image = "ghcr.io/example/default:1"
	})
	spec := testSpec("sized")
	spec.Flavor, spec.Image, spec.MemoryMB = "large", "default", 16384 // a size label beats the flavor
	pod, err := p.podManifest(spec)
	if err != nil {
		t.Fatal(err)
	}
	r := pod.Spec.Containers[0].Resources.Limits
	if r.Cpu().String() != "4" || r.Memory().String() != "16Gi" || pod.Spec.Containers[0].Image != "ghcr.io/example/default:1" {
		t.Errorf("limits %v image %q", r, pod.Spec.Containers[0].Image)
	}
	if pod.Spec.Volumes[0].EmptyDir.SizeLimit != nil {
		t.Errorf("no disk size given, yet the workspace is limited to %v", pod.Spec.Volumes[0].EmptyDir.SizeLimit)
	}
	spec.Flavor = "huge"
	if _, err := p.Create(t.Context(), spec); err == nil || !strings.Contains(err.Error(), `unknown flavor "huge" (this provider has: large)`) {
		t.Errorf("unknown flavor: %v", err)
	}
	bare := c.provider(t, nil)
	spec.Flavor = ""
	if _, err := bare.Create(t.Context(), spec); err == nil || !strings.Contains(err.Error(), "no default image") {
		t.Errorf("no image anywhere: %v", err)
	}
	spec.Token = ""
	if _, err := bare.Create(t.Context(), spec); err == nil || !strings.Contains(err.Error(), "spec lacks token") {
		t.Errorf("no token: %v", err)
	}
}
