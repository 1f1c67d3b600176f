package app

import (
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/paddock-ci/paddock/internal/config"
)

func TestKubernetesProviderFromConfig(t *testing.T) {
	secs := 30
	k := &config.KubernetesConfig{
		Mode: "pod", RuntimeClass: "gvisor", NodeSelector: []string{"kubernetes.io/arch=amd64", "ci="},
		Tolerations: []config.TolerationConfig{{Key: "ci", Effect: "NoExecute", TolerationSeconds: &secs}, {Operator: "Exists"}},
		Flavors:     []config.FlavorConfig{{Name: "large", CPU: 4, MemoryMB: 8192}},
		RunAsUser:   2000,
	}
	o := kubernetesOptions(k, "ctl", "runners")
	if o.NodeSelector["kubernetes.io/arch"] != "amd64" || o.NodeSelector["ci"] != "" || len(o.NodeSelector) != 2 {
		t.Errorf("node selector = %v", o.NodeSelector)
	}
	t0 := o.Tolerations[0]
	if t0.Operator != corev1.TolerationOpEqual || t0.TolerationSeconds == nil || *t0.TolerationSeconds != 30 ||
		o.Tolerations[1].Operator != corev1.TolerationOpExists {
		t.Errorf("tolerations = %+v", o.Tolerations)
	}
	if o.Flavors["large"].CPU != 4 || o.RunAsUser != 2000 || o.Namespace != "runners" || o.ControllerID != "ctl" {
		t.Errorf("options = %+v", o)
	}

	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kc, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: u, user: {}}]
contexts: [{name: x, context: {cluster: c, user: u, namespace: from-context}}]
current-context: x
`), 0o600); err != nil {
		t.Fatal(err)
	}
	pc := config.ProviderConfig{Name: "k8s", Type: "kubernetes", Kubernetes: &config.KubernetesConfig{Kubeconfig: kc, Mode: "kubevirt"}}
	if _, err := newKubernetesProvider(pc, ProviderEnv{ControllerID: "ctl"}); err != nil {
		t.Errorf("factory: %v", err)
	}
	pc.Kubernetes.Kubeconfig = filepath.Join(t.TempDir(), "missing")
	if _, err := newKubernetesProvider(pc, ProviderEnv{ControllerID: "ctl"}); err == nil {
		t.Error("factory accepted a missing kubeconfig")
	}
}
