// Package deploy holds the deployment files (systemd unit, container
// recipe, Kubernetes manifests); its test lints them with the tools at hand.
package deploy

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/yaml"

	"github.com/paddock-ci/paddock/internal/config"
)

// decodeAll decodes every document of a manifest file with client-go's
// scheme, strictly: an unknown field or kind is an error.
func decodeAll(t *testing.T, path string) []runtime.Object {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []runtime.Object
	rd := yaml.NewYAMLReader(bufioReader(raw))
	for {
		doc, err := rd.Read()
		if err != nil {
			break
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		js, err := yaml.ToJSON(doc)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		obj, _, err := serializerStrict().Decode(js, nil, nil)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, obj)
	}
	return out
}

func TestKubernetesManifests(t *testing.T) {
	var objs []runtime.Object
	for _, f := range []string{"paddock.yaml", "postgres.yaml", "secrets.example.yaml"} {
		objs = append(objs, decodeAll(t, filepath.Join("kubernetes", f))...)
	}
	var dep *appsv1.Deployment
	var cm *corev1.ConfigMap
	var sec *corev1.Secret
	found := map[string]bool{}
	for _, o := range objs {
		switch v := o.(type) {
		case *appsv1.Deployment:
			dep = v
		case *corev1.ConfigMap:
			cm = v
		case *corev1.Secret:
			sec = v
		case *appsv1.StatefulSet:
			found["postgres"] = strings.Contains(v.Spec.Template.Spec.Containers[0].Image, "postgres")
		case *policyv1.PodDisruptionBudget:
			found["pdb"] = v.Spec.MinAvailable != nil && v.Spec.MinAvailable.IntValue() >= 2
		case *rbacv1.Role:
			found["rbac"] = true
		case *corev1.Service:
			found["service:"+v.Name] = true
		}
	}
	for _, k := range []string{"postgres", "pdb", "rbac", "service:paddock", "service:paddock-postgres"} {
		if !found[k] {
			t.Errorf("manifests lack %s", k)
		}
	}
	if dep == nil || cm == nil || sec == nil {
		t.Fatal("manifests lack the Deployment, ConfigMap or Secret")
	}
	if r := dep.Spec.Replicas; r == nil || *r < 2 {
		t.Errorf("Deployment runs %v replicas, want several", r)
	}
	c := dep.Spec.Template.Spec.Containers[0]
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("readiness probe must be GET /healthz (503 when the replica cannot reach the database)")
	}
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet != nil {
		t.Errorf("liveness must not use /healthz: a database outage would restart every replica")
	}
	// Every secret the config references comes from the Secret.
	env := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Name != sec.Name {
			t.Errorf("env %s is not taken from Secret %s", e.Name, sec.Name)
			continue
		}
		v, ok := sec.StringData[e.ValueFrom.SecretKeyRef.Key]
		if !ok {
			t.Errorf("env %s: Secret has no key %s", e.Name, e.ValueFrom.SecretKeyRef.Key)
		}
		env[e.Name] = v
	}
	// The config in the ConfigMap passes Paddock's own validation, with the
	// placeholders replaced by values of the right shape.
	env["PADDOCK_ADMIN_TOKEN"] = strings.Repeat("a", 32)
	env["PADDOCK_ENCRYPTION_KEY"] = strings.Repeat("ab", 32)
	for k, v := range env {
		t.Setenv(k, v)
	}
	cfg, err := config.Parse([]byte(cm.Data["paddock.yaml"]), "paddock.yaml", t.TempDir())
	if err != nil {
		t.Fatalf("the ConfigMap's paddock.yaml does not load: %v", err)
	}
	if cfg.Store.Driver != "postgres" || cfg.HA.Lease <= 0 {
		t.Errorf("config: store %q, lease %s", cfg.Store.Driver, cfg.HA.Lease)
	}
	mounted := false
	for _, m := range c.VolumeMounts {
		mounted = mounted || m.MountPath == filepath.Dir(c.Args[len(c.Args)-1])
	}
	if !mounted {
		t.Errorf("config file %s is not mounted", c.Args[len(c.Args)-1])
	}
}

// systemd-analyze checks the unit (with ExecStart pointed at a binary that
// exists here, since paddock is not installed).
func TestSystemdUnit(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("systemd-analyze not found (apt-get install systemd)")
		}
		t.Skip("systemd-analyze not found (apt-get install systemd)")
	}
	raw, err := os.ReadFile("systemd/paddock.service")
	if err != nil {
		t.Fatal(err)
	}
	unit := filepath.Join(t.TempDir(), "paddock.service")
	if err := os.WriteFile(unit, bytes.ReplaceAll(raw, []byte("/usr/local/bin/paddock"), []byte("/bin/true")), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sa, "verify", unit).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// The image recipe builds a static binary on a base without libc.
func TestContainerfile(t *testing.T) {
	raw, err := os.ReadFile("container/Containerfile")
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	for _, want := range []string{"CGO_ENABLED=0", "FROM gcr.io/distroless/static", "USER nonroot", "./cmd/paddock"} {
		if !strings.Contains(s, want) {
			t.Errorf("Containerfile lacks %q", want)
		}
	}
	gomod, _ := os.ReadFile("../go.mod")
	for _, line := range strings.Split(string(gomod), "\n") {
		if v, ok := strings.CutPrefix(line, "go "); ok {
			minor := strings.Join(strings.Split(v, ".")[:2], ".")
			if !strings.Contains(s, fmt.Sprintf("golang:%s-", minor)) {
				t.Errorf("Containerfile's Go image is not go %s (go.mod)", minor)
			}
		}
	}
}
