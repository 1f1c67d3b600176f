package config

import (
	"fmt"
	"regexp"
	"strings"
)

// KubernetesConfig configures the kubernetes provider: one Pod or one
// KubeVirt VirtualMachineInstance per runner.
type KubernetesConfig struct {
	// Kubeconfig is a kubeconfig file (relative to the config file); empty
	// means paddock runs in the cluster and uses its service account.
	Kubeconfig string `yaml:"kubeconfig"`
	Context    string `yaml:"context"`   // kubeconfig context; default its current one
	Namespace  string `yaml:"namespace"` // default: the context's, or paddock's own pod's
	Mode       string `yaml:"mode"`      // pod (default) or kubevirt
	// Image is used by pools that name none. In kubevirt mode "pvc:NAME" boots
	// from a copy-on-write overlay of a PVC (e.g. imported by a DataVolume).
	Image            string             `yaml:"image"`
	RuntimeClass     string             `yaml:"runtime_class"` // pod mode: gVisor, Kata, …
	ImagePullSecrets []string           `yaml:"image_pull_secrets"`
	NodeSelector     []string           `yaml:"node_selector"` // key=value
	Tolerations      []TolerationConfig `yaml:"tolerations"`
	Boot             string             `yaml:"boot"`    // pod mode: paddock (default) or install-script
	Command          []string           `yaml:"command"` // boot paddock; default [paddock, machine-boot]
	RunAsUser        int                `yaml:"run_as_user"`
	CPU              int                `yaml:"cpu"`       // default 1
	MemoryMB         int                `yaml:"memory_mb"` // default 2048
	DiskGB           int                `yaml:"disk_gb"`   // pod: workspace size limit; VM: scratch disk (default 10)
	Flavors          []FlavorConfig     `yaml:"flavors"`
}

// TolerationConfig is a Kubernetes toleration.
type TolerationConfig struct {
	Key               string `yaml:"key"`
	Operator          string `yaml:"operator"` // Equal (default) or Exists
	Value             string `yaml:"value"`
	Effect            string `yaml:"effect"` // empty (all), NoSchedule, PreferNoSchedule or NoExecute
	TolerationSeconds *int   `yaml:"toleration_seconds"`
}

// FlavorConfig is a named machine size a pool's flavor may select.
type FlavorConfig struct {
	Name     string `yaml:"name"`
	CPU      int    `yaml:"cpu"`
	MemoryMB int    `yaml:"memory_mb"`
	DiskGB   int    `yaml:"disk_gb"`
}

var (
	dnsLabelRE     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dnsSubdomainRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	labelNameRE    = regexp.MustCompile(`^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$`)
)

func init() { providerBlocks["kubernetes"] = (*validator).kubernetes }

// kubernetes checks a provider's kubernetes block (optional: without one the
// provider runs pods in its own namespace with the in-cluster config).
func (v *validator) kubernetes(path string, pr ProviderConfig) {
	k := pr.Kubernetes
	path += ".kubernetes"
	if k == nil {
		return
	}
	if pr.Type != "kubernetes" {
		v.p.at(path, "only valid for type kubernetes")
		return
	}
	if k.Context != "" && k.Kubeconfig == "" {
		v.p.at(path+".context", "needs kubeconfig (in-cluster config has no contexts)")
	}
	if k.Namespace != "" && (len(k.Namespace) > 63 || !dnsLabelRE.MatchString(k.Namespace)) {
		v.p.at(path+".namespace", "%q is not a valid namespace (lower-case letters, digits and '-', at most 63)", k.Namespace)
	}
	vm := k.Mode == "kubevirt"
	switch k.Mode {
	case "", "pod", "kubevirt":
	default:
		v.p.at(path+".mode", "unknown mode %q (want pod or kubevirt)", k.Mode)
	}
	if k.RuntimeClass != "" {
		if vm {
			v.p.at(path+".runtime_class", "only valid in pod mode (KubeVirt runs its own launcher pods)")
		} else {
			v.dnsSubdomain(path+".runtime_class", k.RuntimeClass)
		}
	}
	for i, s := range k.ImagePullSecrets {
		v.dnsSubdomain(fmt.Sprintf("%s.image_pull_secrets[%d]", path, i), s)
	}
	if vm && len(k.ImagePullSecrets) > 1 {
		v.p.at(path+".image_pull_secrets", "kubevirt mode takes one pull secret (a containerDisk has a single imagePullSecret)")
	}
	for i, kv := range k.NodeSelector {
		v.nodeSelector(fmt.Sprintf("%s.node_selector[%d]", path, i), kv)
	}
	for i, t := range k.Tolerations {
		v.toleration(fmt.Sprintf("%s.tolerations[%d]", path, i), t)
	}
	v.kubernetesBoot(path, k, vm)
	v.minInt(path+".run_as_user", k.RunAsUser, 1)
	v.minInt(path+".cpu", k.CPU, 1)
	v.minInt(path+".memory_mb", k.MemoryMB, 64)
	v.minInt(path+".disk_gb", k.DiskGB, 1)
	names := map[string]string{}
	for i, f := range k.Flavors {
		fp := fmt.Sprintf("%s.flavors[%d]", path, i)
		v.name(fp, f.Name, names)
		v.minInt(fp+".cpu", f.CPU, 1)
		v.minInt(fp+".memory_mb", f.MemoryMB, 64)
		v.minInt(fp+".disk_gb", f.DiskGB, 1)
		if f.CPU == 0 && f.MemoryMB == 0 && f.DiskGB == 0 {
			v.p.at(fp, "a flavor needs cpu, memory_mb or disk_gb")
		}
	}
}

func (v *validator) kubernetesBoot(path string, k *KubernetesConfig, vm bool) {
	switch k.Boot {
	case "", "paddock", "install-script":
		if vm && k.Boot != "" {
			v.p.at(path+".boot", "only valid in pod mode (a VM always boots through cloud-init and the install script)")
		}
	default:
		v.p.at(path+".boot", "unknown boot %q (want paddock or install-script)", k.Boot)
	}
	if len(k.Command) == 0 {
		return
	}
	if vm || k.Boot == "install-script" {
		v.p.at(path+".command", "only used with boot: paddock in pod mode")
	}
	for i, c := range k.Command {
		if c == "" {
			v.p.at(fmt.Sprintf("%s.command[%d]", path, i), "must not be empty")
		}
	}
}

func (v *validator) dnsSubdomain(path, s string) {
	if len(s) > 253 || !dnsSubdomainRE.MatchString(s) {
		v.p.at(path, "%q is not a valid Kubernetes object name (lower-case letters, digits, '-' and '.')", s)
	}
}

// nodeSelector checks one key=value pair against Kubernetes' label rules.
func (v *validator) nodeSelector(path, kv string) {
	key, val, ok := strings.Cut(kv, "=")
	if !ok {
		v.p.at(path, "%q must be key=value", kv)
		return
	}
	if !labelKeyOK(key) {
		v.p.at(path, "%q is not a valid label key (optional DNS prefix and '/', then at most 63 of letters, digits, '-', '_', '.')", key)
	}
	if len(val) > 63 || !labelNameRE.MatchString(val) {
		v.p.at(path, "%q is not a valid label value (at most 63 of letters, digits, '-', '_', '.')", val)
	}
}

func labelKeyOK(key string) bool {
	name := key
	if prefix, n, ok := strings.Cut(key, "/"); ok {
		if prefix == "" || len(prefix) > 253 || !dnsSubdomainRE.MatchString(prefix) {
			return false
		}
		name = n
	}
	return name != "" && len(name) <= 63 && labelNameRE.MatchString(name)
}

func (v *validator) toleration(path string, t TolerationConfig) {
	switch t.Operator {
	case "", "Equal":
		if t.Key == "" {
			v.p.at(path+".key", "required unless operator is Exists")
		}
	case "Exists":
		if t.Value != "" {
			v.p.at(path+".value", "must be empty when operator is Exists")
		}
	default:
		v.p.at(path+".operator", "unknown operator %q (want Equal or Exists)", t.Operator)
	}
	if t.Key != "" && !labelKeyOK(t.Key) {
		v.p.at(path+".key", "%q is not a valid taint key", t.Key)
	}
	switch t.Effect {
	case "", "NoSchedule", "PreferNoSchedule", "NoExecute":
	default:
		v.p.at(path+".effect", "unknown effect %q (want NoSchedule, PreferNoSchedule or NoExecute)", t.Effect)
	}
	if t.TolerationSeconds != nil && t.Effect != "NoExecute" {
		v.p.at(path+".toleration_seconds", "only valid with effect NoExecute")
	}
}
