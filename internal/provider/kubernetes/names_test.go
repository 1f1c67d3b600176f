package kubernetes

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
)

func TestNamesAndLabelsAreValid(t *testing.T) {
	long := strings.Repeat("runner-", 20)
	for _, name := range []string{"paddock-abc123", "Paddock_Runner.7", long, "---", "ünïcode", "a"} {
		obj := objectName(name)
		if errs := validation.IsDNS1123Label(obj); len(errs) > 0 {
			t.Errorf("objectName(%q) = %q: %v", name, obj, errs)
		}
		if errs := validation.IsDNS1123Subdomain(secretName(obj)); len(errs) > 0 {
			t.Errorf("secretName(%q): %v", obj, errs)
		}
		if objectName(name) != obj {
			t.Errorf("objectName(%q) is not deterministic", name)
		}
		lv := labelValue(name)
		if errs := validation.IsValidLabelValue(lv); len(errs) > 0 {
			t.Errorf("labelValue(%q) = %q: %v", name, lv, errs)
		}
	}
	if objectName("paddock-abc123") != "paddock-abc123" || labelValue("pool_7.x") != "pool_7.x" {
		t.Error("valid names must be kept as they are")
	}
	// Names that sanitise alike must still map to different objects.
	if objectName("Runner_1") == objectName("runner-1") || labelValue(long+"a") == labelValue(long+"b") {
		t.Error("sanitised names collide")
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	c := newCluster(t)
	base := Options{ControllerID: "c", Namespace: "n", Core: c.core}
	cases := map[string]func(o *Options){
		"controller ID is required": func(o *Options) { o.ControllerID = "" },
		"namespace is required":     func(o *Options) { o.Namespace = "" },
		"core/v1 client":            func(o *Options) { o.Core = nil },
		"needs a dynamic client":    func(o *Options) { o.Mode = ModeKubeVirt },
		`unknown mode "vm"`:         func(o *Options) { o.Mode = "vm" },
		`unknown boot "x"`:          func(o *Options) { o.Boot = "x" },
		"non-root":                  func(o *Options) { o.RunAsUser = -1 },
	}
	for want, mutate := range cases {
		o := base
		mutate(&o)
		if _, err := New(o); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v", want, err)
		}
	}
}

const kubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: a
  cluster: {server: "https://a.example:6443"}
- name: b
  cluster: {server: "https://b.example:6443"}
users:
- name: u
  user: {token: not-a-real-token}
contexts:
- name: ctx-a
  context: {cluster: a, user: u}
- name: ctx-b
  context: {cluster: b, user: u, namespace: ci-runners}
current-context: ctx-a
`

func TestRESTConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(path, []byte(kubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	rc, ns, err := RESTConfig(path, "")
	if err != nil || rc.Host != "https://a.example:6443" || ns != "default" {
		t.Errorf("current context: %v %q %v", rc, ns, err)
	}
	rc, ns, err = RESTConfig(path, "ctx-b")
	if err != nil || rc.Host != "https://b.example:6443" || ns != "ci-runners" || rc.UserAgent != "paddock" {
		t.Errorf("ctx-b: %v %q %v", rc, ns, err)
	}
	if _, _, err := RESTConfig(path, "ctx-z"); err == nil || !strings.Contains(err.Error(), "ctx-z") {
		t.Errorf("missing context: %v", err)
	}
	if _, _, err := RESTConfig(filepath.Join(t.TempDir(), "nope"), ""); err == nil {
		t.Error("missing kubeconfig file accepted")
	}
	if _, _, err := RESTConfig("", "ctx-a"); err == nil || !strings.Contains(err.Error(), "needs a kubeconfig") {
		t.Errorf("context without kubeconfig: %v", err)
	}
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBERNETES_SERVICE_PORT", "")
	if _, _, err := RESTConfig("", ""); err == nil || !strings.Contains(err.Error(), "set kubeconfig when paddock runs outside the cluster") {
		t.Errorf("in-cluster outside a cluster: %v", err)
	}
	core, dyn, err := Clients(rc)
	if err != nil || core == nil || dyn == nil {
		t.Errorf("Clients: %v", err)
	}
}
