package config

import (
	"path/filepath"
	"strings"
	"testing"
)

const kubernetesProviders = `server:
  admin_token: env:T_ADMIN
store:
  encryption_key: env:T_KEY
providers:
  - name: k8s
    type: kubernetes
    kubernetes:
      kubeconfig: kube/config
      context: ci
      namespace: runners
      runtime_class: gvisor
      image_pull_secrets: [regcred]
      node_selector: ["kubernetes.io/arch=amd64", "pool="]
      tolerations:
        - {key: dedicated, value: ci, effect: NoExecute, toleration_seconds: 60}
        - {operator: Exists}
      flavors:
        - {name: large, cpu: 4, memory_mb: 8192}
`

func TestKubernetesProviderParsesAndResolves(t *testing.T) {
	setBaseEnv(t)
	dir := t.TempDir()
	c, err := Parse([]byte(kubernetesProviders), "paddock.yaml", dir)
	if err != nil {
		t.Fatal(err)
	}
	k := c.Providers[0].Kubernetes
	if k.Kubeconfig != filepath.Join(dir, "kube/config") || k.Mode != "pod" || k.Context != "ci" {
		t.Errorf("kubeconfig %q mode %q context %q", k.Kubeconfig, k.Mode, k.Context)
	}
	if len(k.Tolerations) != 2 || k.Tolerations[0].TolerationSeconds == nil || *k.Tolerations[0].TolerationSeconds != 60 {
		t.Errorf("tolerations = %+v", k.Tolerations)
	}
	if len(k.Flavors) != 1 || k.Flavors[0].CPU != 4 || k.Flavors[0].MemoryMB != 8192 {
		t.Errorf("flavors = %+v", k.Flavors)
	}
	// Without a block the provider is valid too (in-cluster, pod mode).
	if _, err := Parse([]byte(strings.Replace(minimal, "type: process", "type: kubernetes", 1)), "p.yaml", dir); err != nil {
		t.Errorf("bare kubernetes provider: %v", err)
	}
}

func TestKubernetesProviderErrors(t *testing.T) {
	setBaseEnv(t)
	base := kubernetesProviders
	rep := func(old, new string) string {
		if !strings.Contains(base, old) {
			t.Fatalf("fixture lacks %q", old)
		}
		return strings.Replace(base, old, new, 1)
	}
	cases := []struct{ name, src, want string }{
		{"block on the wrong type", minimal + "    kubernetes: {namespace: x}\n",
			"paddock.yaml:8: providers[0].kubernetes: only valid for type kubernetes"},
		{"context without kubeconfig", rep("kubeconfig: kube/config", "namespace: a"),
			"providers[0].kubernetes.context: needs kubeconfig"},
		{"bad namespace", rep("namespace: runners", "namespace: Runners_1"),
			`paddock.yaml:11: providers[0].kubernetes.namespace: "Runners_1" is not a valid namespace`},
		{"bad mode", base + "      mode: vm\n",
			`paddock.yaml:20: providers[0].kubernetes.mode: unknown mode "vm" (want pod or kubevirt)`},
		{"runtime class in kubevirt mode", base + "      mode: kubevirt\n",
			"paddock.yaml:12: providers[0].kubernetes.runtime_class: only valid in pod mode"},
		{"bad pull secret", rep("[regcred]", "[Reg_Cred]"),
			`providers[0].kubernetes.image_pull_secrets[0]: "Reg_Cred" is not a valid Kubernetes object name`},
		{"selector without =", rep(`"pool="`, `"pool"`),
			`paddock.yaml:14: providers[0].kubernetes.node_selector[1]: "pool" must be key=value`},
		{"selector bad key", rep(`"pool="`, `"/x=1"`),
			`providers[0].kubernetes.node_selector[1]: "/x" is not a valid label key`},
		{"selector bad value", rep(`"pool="`, `"pool=a b"`),
			`providers[0].kubernetes.node_selector[1]: "a b" is not a valid label value`},
		{"toleration seconds without NoExecute", rep("effect: NoExecute, ", ""),
			"providers[0].kubernetes.tolerations[0].toleration_seconds: only valid with effect NoExecute"},
		{"toleration bad operator", rep("{operator: Exists}", "{key: a, operator: In}"),
			`providers[0].kubernetes.tolerations[1].operator: unknown operator "In"`},
		{"toleration Exists with value", rep("{operator: Exists}", "{operator: Exists, value: v}"),
			"providers[0].kubernetes.tolerations[1].value: must be empty when operator is Exists"},
		{"toleration Equal without key", rep("{operator: Exists}", "{value: v}"),
			"providers[0].kubernetes.tolerations[1].key: required unless operator is Exists"},
		{"bad boot", base + "      boot: cloud-init\n",
			`providers[0].kubernetes.boot: unknown boot "cloud-init"`},
		{"command with install-script", base + "      boot: install-script\n      command: [x]\n",
			"providers[0].kubernetes.command: only used with boot: paddock in pod mode"},
		{"root user", base + "      run_as_user: 0\n",
			"paddock.yaml:20: providers[0].kubernetes.run_as_user: must be ≥ 1"},
		{"empty flavor", base + "        - {name: nothing}\n",
			"providers[0].kubernetes.flavors[1]: a flavor needs cpu, memory_mb or disk_gb"},
		{"duplicate flavor", base + "        - {name: large, cpu: 8}\n",
			`providers[0].kubernetes.flavors[1].name: duplicate name "large"`},
		{"typo", base + "      runtimeclass: kata\n",
			`unknown key "runtimeclass" (did you mean "runtime_class"?)`},
	}
	for _, c := range cases {
		wantProblem(t, c.name, c.src, c.want)
	}
}
