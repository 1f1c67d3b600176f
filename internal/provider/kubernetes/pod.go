package kubernetes

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/paddock-ci/paddock/internal/provider"
)

func (p *Provider) createPod(ctx context.Context, spec provider.Spec) (provider.Machine, error) {
	pods := p.opts.Core.Pods(p.opts.Namespace)
	name := objectName(spec.Name)
	pod, err := pods.Get(ctx, name, metav1.GetOptions{})
	switch {
	case err == nil:
		return p.existingPod(ctx, pod)
	case !apierrors.IsNotFound(err):
		return provider.Machine{}, wrap("get pod", name, err)
	}
	want, err := p.podManifest(spec)
	if err != nil {
		return provider.Machine{}, err
	}
	if err := p.putSecret(ctx, spec, map[string][]byte{tokenKey: []byte(spec.Token)}); err != nil {
		return provider.Machine{}, err
	}
	pod, err = pods.Create(ctx, want, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		// Another call won the race: its Pod is the machine.
		if pod, err = pods.Get(ctx, name, metav1.GetOptions{}); err != nil {
			return provider.Machine{}, wrap("get pod", name, err)
		}
		return p.existingPod(ctx, pod)
	}
	if err != nil {
		return provider.Machine{}, wrap("create pod", name, err)
	}
	if err := p.ownSecret(ctx, name, podOwner(pod)); err != nil {
		return provider.Machine{}, err
	}
	return p.podMachine(pod), nil
}

// existingPod is Create's answer for a Pod that is already there. Its Secret
// is (re)owned because an earlier Create may have stopped before doing it.
func (p *Provider) existingPod(ctx context.Context, pod *corev1.Pod) (provider.Machine, error) {
	if !p.owned(pod) {
		return provider.Machine{}, fmt.Errorf("kubernetes: pod %s/%s exists and is not this controller's", pod.Namespace, pod.Name)
	}
	if err := p.ownSecret(ctx, pod.Name, podOwner(pod)); err != nil && !apierrors.IsNotFound(err) {
		return provider.Machine{}, err
	}
	return p.podMachine(pod), nil
}

func podOwner(pod *corev1.Pod) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID}
}

func (p *Provider) getPod(ctx context.Context, name string) (provider.Machine, error) {
	pod, err := p.opts.Core.Pods(p.opts.Namespace).Get(ctx, objectName(name), metav1.GetOptions{})
	if apierrors.IsNotFound(err) || (err == nil && !p.owned(pod)) {
		return provider.Machine{}, provider.ErrNotFound
	}
	if err != nil {
		return provider.Machine{}, wrap("get pod", objectName(name), err)
	}
	return p.podMachine(pod), nil
}

func (p *Provider) listPods(ctx context.Context) ([]provider.Machine, error) {
	list, err := p.opts.Core.Pods(p.opts.Namespace).List(ctx, metav1.ListOptions{LabelSelector: p.selector()})
	if err != nil {
		return nil, wrap("list pods in", p.opts.Namespace, err)
	}
	out := make([]provider.Machine, 0, len(list.Items))
	for i := range list.Items {
		if p.owned(&list.Items[i]) {
			out = append(out, p.podMachine(&list.Items[i]))
		}
	}
	return out, nil
}

func (p *Provider) deletePod(ctx context.Context, name string) error {
	pods := p.opts.Core.Pods(p.opts.Namespace)
	obj := objectName(name)
	pod, err := pods.Get(ctx, obj, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return wrap("get pod", obj, err)
	case !p.owned(pod):
		return nil // same name, another controller's: not ours to delete
	default:
		if err := p.ignoreNotFound(pods.Delete(ctx, obj, deleteOptions(pod.UID)), "delete pod", obj); err != nil {
			return err
		}
	}
	// Also when the Pod is gone: a Create may have stopped after the Secret.
	return p.deleteSecret(ctx, obj)
}

// podManifest is the Pod of one machine. The runner is untrusted code: it
// runs as a non-root user without capabilities, service-account token or
// service-link variables, optionally in a sandboxing runtime class.
func (p *Provider) podManifest(spec provider.Spec) (*corev1.Pod, error) {
	sz, err := p.size(spec)
	if err != nil {
		return nil, err
	}
	img, err := p.image(spec)
	if err != nil {
		return nil, err
	}
	res := corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewQuantity(int64(sz.CPU), resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity(int64(sz.MemoryMB)*1024*1024, resource.BinarySI),
	}
	cmd := p.opts.Command
	if p.opts.Boot == BootInstallScript {
		cmd = podBootScript()
	}
	meta := p.meta(spec.Name, spec.PoolID)
	no, yes := false, true
	uid := p.opts.RunAsUser
	seccomp := &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
	ws := corev1.EmptyDirVolumeSource{}
	if sz.DiskGB > 0 {
		ws.SizeLimit = resource.NewQuantity(int64(sz.DiskGB)<<30, resource.BinarySI)
	}
	pod := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: meta,
		Spec: corev1.PodSpec{
			RestartPolicy:                corev1.RestartPolicyNever,
			AutomountServiceAccountToken: &no,
			EnableServiceLinks:           &no,
			RuntimeClassName:             optional(p.opts.RuntimeClass),
			NodeSelector:                 p.opts.NodeSelector,
			Tolerations:                  p.opts.Tolerations,
			ImagePullSecrets:             pullSecrets(p.opts.ImagePullSecrets),
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot: &yes, RunAsUser: &uid, RunAsGroup: &uid, FSGroup: &uid, SeccompProfile: seccomp,
			},
			Volumes: []corev1.Volume{{Name: workspaceVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &ws}}},
			Containers: []corev1.Container{{
				Name:       containerName,
				Image:      img,
				Command:    cmd,
				WorkingDir: workspaceDir,
				Env: []corev1.EnvVar{
					{Name: "PADDOCK_METADATA_URL", Value: spec.MetadataURL},
					{Name: "PADDOCK_CALLBACK_URL", Value: spec.CallbackURL},
					{Name: "PADDOCK_INSTANCE_TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
						LocalObjectReference: corev1.LocalObjectReference{Name: secretName(meta.Name)}, Key: tokenKey,
					}}},
				},
				Resources:    corev1.ResourceRequirements{Requests: res, Limits: res.DeepCopy()},
				VolumeMounts: []corev1.VolumeMount{{Name: workspaceVolume, MountPath: workspaceDir}},
				SecurityContext: &corev1.SecurityContext{
					RunAsNonRoot: &yes, Privileged: &no, AllowPrivilegeEscalation: &no,
					Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}, SeccompProfile: seccomp,
				},
			}},
		},
	}
	return pod, nil
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func pullSecrets(names []string) []corev1.LocalObjectReference {
	var out []corev1.LocalObjectReference
	for _, n := range names {
		out = append(out, corev1.LocalObjectReference{Name: n})
	}
	return out
}

func (p *Provider) podMachine(pod *corev1.Pod) provider.Machine {
	m := provider.Machine{
		ProviderID: pod.Namespace + "/" + pod.Name,
		Name:       pod.Annotations[annotInstanceName],
		PoolID:     pod.Annotations[annotPool],
	}
	switch pod.Status.Phase {
	case "", corev1.PodPending, corev1.PodRunning:
		m.Status = provider.StatusRunning
		m.Fault = waitingFault(pod)
	case corev1.PodSucceeded:
		m.Status = provider.StatusStopped
	case corev1.PodFailed:
		m.Status = provider.StatusError
		m.Fault = failedFault(pod)
	default:
		m.Status = provider.StatusUnknown
	}
	m.Fault = truncate(m.Fault)
	return m
}

// stuckReasons are container waiting reasons an operator must act on (the
// Pod stays Pending meanwhile, so they would otherwise go unseen until the
// bootstrap timeout).
var stuckReasons = map[string]bool{
	"ErrImagePull": true, "ImagePullBackOff": true, "InvalidImageName": true,
	"CreateContainerConfigError": true, "CreateContainerError": true, "RunContainerError": true,
}

func waitingFault(pod *corev1.Pod) string {
	for _, cs := range pod.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil && stuckReasons[w.Reason] {
			return joinFault("container "+cs.Name+": "+w.Reason, w.Message)
		}
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			return joinFault("unschedulable", c.Message)
		}
	}
	return ""
}

func failedFault(pod *corev1.Pod) string {
	for _, cs := range pod.Status.ContainerStatuses {
		if t := cs.State.Terminated; t != nil && t.ExitCode != 0 {
			return joinFault(fmt.Sprintf("container %s: %s (exit code %d)", cs.Name, t.Reason, t.ExitCode), t.Message)
		}
	}
	if pod.Status.Reason != "" || pod.Status.Message != "" {
		return joinFault("pod failed: "+pod.Status.Reason, pod.Status.Message)
	}
	return "pod failed"
}

func joinFault(head, detail string) string {
	detail = strings.TrimSpace(detail)
	if detail == "" {
		return head
	}
	return head + ": " + detail
}
