package kubernetes

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"github.com/paddock-ci/paddock/internal/provider"
)

// VMIResource is the KubeVirt kind this provider creates.
var VMIResource = schema.GroupVersionResource{Group: "kubevirt.io", Version: "v1", Resource: "virtualmachineinstances"}

// pvcImagePrefix marks an image that is a PVC (e.g. one a CDI DataVolume
// imported) rather than a containerDisk.
const pvcImagePrefix = "pvc:"

func (p *Provider) vmis() dynamic.ResourceInterface {
	return p.opts.Dynamic.Resource(VMIResource).Namespace(p.opts.Namespace)
}

func (p *Provider) createVMI(ctx context.Context, spec provider.Spec) (provider.Machine, error) {
	name := objectName(spec.Name)
	u, err := p.vmis().Get(ctx, name, metav1.GetOptions{})
	switch {
	case err == nil:
		return p.existingVMI(ctx, u)
	case !apierrors.IsNotFound(err):
		return provider.Machine{}, wrap("get virtualmachineinstance", name, err)
	}
	want, err := p.vmiManifest(spec)
	if err != nil {
		return provider.Machine{}, err
	}
	obj, err := toUnstructured(want)
	if err != nil {
		return provider.Machine{}, err
	}
	if err := p.putSecret(ctx, spec, map[string][]byte{userDataKey: []byte(vmUserData(spec))}); err != nil {
		return provider.Machine{}, err
	}
	u, err = p.vmis().Create(ctx, obj, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		if u, err = p.vmis().Get(ctx, name, metav1.GetOptions{}); err != nil {
			return provider.Machine{}, wrap("get virtualmachineinstance", name, err)
		}
		return p.existingVMI(ctx, u)
	}
	if err != nil {
		return provider.Machine{}, wrap("create virtualmachineinstance", name, err)
	}
	if err := p.ownSecret(ctx, name, vmiOwner(u)); err != nil {
		return provider.Machine{}, err
	}
	return p.vmiMachine(u)
}

func (p *Provider) existingVMI(ctx context.Context, u *unstructured.Unstructured) (provider.Machine, error) {
	if !p.owned(u) {
		return provider.Machine{}, fmt.Errorf("kubernetes: virtualmachineinstance %s/%s exists and is not this controller's", u.GetNamespace(), u.GetName())
	}
	if err := p.ownSecret(ctx, u.GetName(), vmiOwner(u)); err != nil && !apierrors.IsNotFound(err) {
		return provider.Machine{}, err
	}
	return p.vmiMachine(u)
}

func vmiOwner(u *unstructured.Unstructured) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: "kubevirt.io/v1", Kind: "VirtualMachineInstance", Name: u.GetName(), UID: u.GetUID()}
}

func (p *Provider) getVMI(ctx context.Context, name string) (provider.Machine, error) {
	u, err := p.vmis().Get(ctx, objectName(name), metav1.GetOptions{})
	if apierrors.IsNotFound(err) || (err == nil && !p.owned(u)) {
		return provider.Machine{}, provider.ErrNotFound
	}
	if err != nil {
		return provider.Machine{}, wrap("get virtualmachineinstance", objectName(name), err)
	}
	return p.vmiMachine(u)
}

func (p *Provider) listVMIs(ctx context.Context) ([]provider.Machine, error) {
	list, err := p.vmis().List(ctx, metav1.ListOptions{LabelSelector: p.selector()})
	if err != nil {
		return nil, wrap("list virtualmachineinstances in", p.opts.Namespace, err)
	}
	out := make([]provider.Machine, 0, len(list.Items))
	for i := range list.Items {
		if !p.owned(&list.Items[i]) {
			continue
		}
		m, err := p.vmiMachine(&list.Items[i])
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

func (p *Provider) deleteVMI(ctx context.Context, name string) error {
	obj := objectName(name)
	u, err := p.vmis().Get(ctx, obj, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return wrap("get virtualmachineinstance", obj, err)
	case !p.owned(u):
		return nil
	default:
		if err := p.ignoreNotFound(p.vmis().Delete(ctx, obj, deleteOptions(u.GetUID())), "delete virtualmachineinstance", obj); err != nil {
			return err
		}
	}
	return p.deleteSecret(ctx, obj)
}

// vmiManifest is one runner VM: the pool's image as root disk (a
// containerDisk, or a copy-on-write overlay of a PVC), cloud-init user-data
// from the instance's Secret, a blank scratch disk, and the pod network.
func (p *Provider) vmiManifest(spec provider.Spec) (*kubevirtv1.VirtualMachineInstance, error) {
	sz, err := p.size(spec)
	if err != nil {
		return nil, err
	}
	img, err := p.image(spec)
	if err != nil {
		return nil, err
	}
	root := kubevirtv1.VolumeSource{}
	if claim, ok := strings.CutPrefix(img, pvcImagePrefix); ok {
		// Ephemeral: writes go to a local overlay, so many VMs can boot
		// from one golden PVC and none can change it.
		root.Ephemeral = &kubevirtv1.EphemeralVolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim, ReadOnly: true}}
	} else {
		cd := &kubevirtv1.ContainerDiskSource{Image: img}
		if len(p.opts.ImagePullSecrets) > 0 {
			cd.ImagePullSecret = p.opts.ImagePullSecrets[0]
		}
		root.ContainerDisk = cd
	}
	scratch := sz.DiskGB
	if scratch == 0 {
		scratch = DefaultVMScratch
	}
	meta := p.meta(spec.Name, spec.PoolID)
	virtio := func(name string) kubevirtv1.Disk {
		return kubevirtv1.Disk{Name: name, DiskDevice: kubevirtv1.DiskDevice{Disk: &kubevirtv1.DiskTarget{Bus: kubevirtv1.DiskBusVirtio}}}
	}
	// Guest memory equals the request; KubeVirt adds its own overhead to
	// the virt-launcher pod on top.
	mem := resource.NewQuantity(int64(sz.MemoryMB)*1024*1024, resource.BinarySI)
	vmi := &kubevirtv1.VirtualMachineInstance{
		TypeMeta:   metav1.TypeMeta{APIVersion: "kubevirt.io/v1", Kind: "VirtualMachineInstance"},
		ObjectMeta: meta,
		Spec: kubevirtv1.VirtualMachineInstanceSpec{
			Domain: kubevirtv1.DomainSpec{
				CPU:       &kubevirtv1.CPU{Cores: uint32(sz.CPU)},
				Memory:    &kubevirtv1.Memory{Guest: mem},
				Resources: kubevirtv1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceMemory: *mem}},
				Devices: kubevirtv1.Devices{
					Disks: []kubevirtv1.Disk{virtio("rootdisk"), virtio("cloudinitdisk"), virtio("scratch")},
					Interfaces: []kubevirtv1.Interface{{Name: "default",
						InterfaceBindingMethod: kubevirtv1.InterfaceBindingMethod{Masquerade: &kubevirtv1.InterfaceMasquerade{}}}},
				},
			},
			// Written out rather than left to KubeVirt's defaulting, whose
			// pod-network binding depends on cluster configuration.
			Networks:     []kubevirtv1.Network{{Name: "default", NetworkSource: kubevirtv1.NetworkSource{Pod: &kubevirtv1.PodNetwork{}}}},
			NodeSelector: p.opts.NodeSelector,
			Tolerations:  p.opts.Tolerations,
			Volumes: []kubevirtv1.Volume{
				{Name: "rootdisk", VolumeSource: root},
				{Name: "cloudinitdisk", VolumeSource: kubevirtv1.VolumeSource{CloudInitNoCloud: &kubevirtv1.CloudInitNoCloudSource{
					UserDataSecretRef: &corev1.LocalObjectReference{Name: secretName(meta.Name)},
				}}},
				{Name: "scratch", VolumeSource: kubevirtv1.VolumeSource{EmptyDisk: &kubevirtv1.EmptyDiskSource{
					Capacity: *resource.NewQuantity(int64(scratch)<<30, resource.BinarySI),
				}}},
			},
		},
	}
	return vmi, nil
}

// toUnstructured converts for the dynamic client through JSON, the wire
// form: the converter's direct path leaves unsigned integers that
// unstructured objects cannot deep-copy. The empty status a typed object
// carries is not ours to send.
func toUnstructured(vmi *kubevirtv1.VirtualMachineInstance) (*unstructured.Unstructured, error) {
	b, err := json.Marshal(vmi)
	if err != nil {
		return nil, fmt.Errorf("kubernetes: encode virtualmachineinstance: %w", err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(b); err != nil {
		return nil, fmt.Errorf("kubernetes: encode virtualmachineinstance: %w", err)
	}
	delete(u.Object, "status")
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	return u, nil
}

func (p *Provider) vmiMachine(u *unstructured.Unstructured) (provider.Machine, error) {
	var vmi kubevirtv1.VirtualMachineInstance
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &vmi); err != nil {
		return provider.Machine{}, fmt.Errorf("kubernetes: decode virtualmachineinstance %s: %w", u.GetName(), err)
	}
	m := provider.Machine{
		ProviderID: vmi.Namespace + "/" + vmi.Name,
		Name:       vmi.Annotations[annotInstanceName],
		PoolID:     vmi.Annotations[annotPool],
	}
	switch vmi.Status.Phase {
	case kubevirtv1.VmPhaseUnset, kubevirtv1.Pending, kubevirtv1.Scheduling, kubevirtv1.Scheduled, kubevirtv1.Running:
		m.Status = provider.StatusRunning
	case kubevirtv1.Succeeded:
		m.Status = provider.StatusStopped
	case kubevirtv1.Failed:
		m.Status = provider.StatusError
		m.Fault = "virtual machine failed"
		for _, c := range vmi.Status.Conditions {
			if c.Status == corev1.ConditionFalse && (c.Reason != "" || c.Message != "") {
				m.Fault = truncate(joinFault(m.Fault+": "+string(c.Type)+" "+c.Reason, c.Message))
				break
			}
		}
	default:
		m.Status = provider.StatusUnknown
	}
	return m, nil
}
