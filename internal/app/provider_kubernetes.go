package app

import (
	"cmp"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/paddock-ci/paddock/internal/config"
	"github.com/paddock-ci/paddock/internal/provider"
	"github.com/paddock-ci/paddock/internal/provider/kubernetes"
)

func init() { providerFactories["kubernetes"] = newKubernetesProvider }

// newKubernetesProvider runs machines as Pods or KubeVirt VMs on the cluster
// named by the kubeconfig (or the one paddock itself runs in).
func newKubernetesProvider(pc config.ProviderConfig, env ProviderEnv) (provider.Provider, error) {
	k := pc.Kubernetes
	if k == nil {
		k = &config.KubernetesConfig{}
	}
	rc, ns, err := kubernetes.RESTConfig(k.Kubeconfig, k.Context)
	if err != nil {
		return nil, err
	}
	core, dyn, err := kubernetes.Clients(rc)
	if err != nil {
		return nil, err
	}
	o := kubernetesOptions(k, env.ControllerID, cmp.Or(k.Namespace, ns))
	o.Core, o.Dynamic = core, dyn
	return kubernetes.New(o)
}

// kubernetesOptions turns the (validated) config block into provider options.
func kubernetesOptions(k *config.KubernetesConfig, controllerID, ns string) kubernetes.Options {
	o := kubernetes.Options{
		ControllerID: controllerID, Namespace: ns, Mode: k.Mode, Image: k.Image,
		RuntimeClass: k.RuntimeClass, ImagePullSecrets: k.ImagePullSecrets,
		Boot: k.Boot, Command: k.Command, RunAsUser: int64(k.RunAsUser),
		CPU: k.CPU, MemoryMB: k.MemoryMB, DiskGB: k.DiskGB,
	}
	if len(k.NodeSelector) > 0 {
		o.NodeSelector = map[string]string{}
		for _, kv := range k.NodeSelector {
			key, val, _ := strings.Cut(kv, "=")
			o.NodeSelector[key] = val
		}
	}
	for _, t := range k.Tolerations {
		tol := corev1.Toleration{Key: t.Key, Operator: corev1.TolerationOperator(cmp.Or(t.Operator, "Equal")),
			Value: t.Value, Effect: corev1.TaintEffect(t.Effect)}
		if t.TolerationSeconds != nil {
			s := int64(*t.TolerationSeconds)
			tol.TolerationSeconds = &s
		}
		o.Tolerations = append(o.Tolerations, tol)
	}
	if len(k.Flavors) > 0 {
		o.Flavors = map[string]kubernetes.Flavor{}
		for _, f := range k.Flavors {
			o.Flavors[f.Name] = kubernetes.Flavor{CPU: f.CPU, MemoryMB: f.MemoryMB, DiskGB: f.DiskGB}
		}
	}
	return o
}
