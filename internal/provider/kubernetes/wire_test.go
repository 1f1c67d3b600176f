package kubernetes

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
)

// TestRealClientsOnTheWire drives the real REST clients (not the fakes)
// against a stub API server, to check the requests a cluster would get:
// paths, the label selector and the delete options.
func TestRealClientsOnTheWire(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	deletes := map[string]metav1.DeleteOptions{}
	meta := func(name string) map[string]any {
		return map[string]any{"name": name, "namespace": "runners", "uid": "u-" + name,
			"labels":      map[string]any{labelController: controllerID},
			"annotations": map[string]any{annotController: controllerID, annotInstanceName: name, annotPool: "p"}}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		var body any
		switch r.Method + " " + r.URL.Path {
		case "GET /api/v1/namespaces/runners/pods":
			body = map[string]any{"apiVersion": "v1", "kind": "PodList", "items": []any{
				map[string]any{"metadata": meta("r1"), "status": map[string]any{"phase": "Running"}}}}
		case "GET /apis/kubevirt.io/v1/namespaces/runners/virtualmachineinstances":
			body = map[string]any{"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstanceList", "items": []any{
				map[string]any{"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance", "metadata": meta("v1"),
					"status": map[string]any{"phase": "Failed"}}}}
		case "GET /api/v1/namespaces/runners/pods/r1":
			body = map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": meta("r1")}
		case "GET /api/v1/namespaces/runners/secrets/r1-boot":
			body = map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": meta("r1-boot")}
		case "DELETE /api/v1/namespaces/runners/pods/r1", "DELETE /api/v1/namespaces/runners/secrets/r1-boot":
			// client-go sends built-in kinds as protobuf; decode what was sent.
			b, _ := io.ReadAll(r.Body)
			var opts metav1.DeleteOptions
			if _, _, err := scheme.Codecs.UniversalDeserializer().Decode(b, nil, &opts); err != nil {
				t.Errorf("delete body %q: %v", b, err)
			}
			mu.Lock()
			deletes[r.URL.Path] = opts
			mu.Unlock()
			body = map[string]any{"apiVersion": "v1", "kind": "Status", "status": "Success"}
		default:
			w.WriteHeader(http.StatusNotFound)
			body = map[string]any{"apiVersion": "v1", "kind": "Status", "status": "Failure", "reason": "NotFound", "code": 404}
		}
		_ = json.NewEncoder(w).Encode(body)
	}))
	defer srv.Close()
	core, dyn, err := Clients(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	pods, err := New(Options{ControllerID: controllerID, Namespace: "runners", Core: core})
	if err != nil {
		t.Fatal(err)
	}
	list, err := pods.List(t.Context())
	if err != nil || len(list) != 1 || list[0].Name != "r1" || list[0].Status != "running" {
		t.Fatalf("pod list = %+v, %v", list, err)
	}
	wantQuery := "labelSelector=app.kubernetes.io%2Fmanaged-by%3Dpaddock%2Cpaddock.dev%2Fcontroller-id%3D" + controllerID
	if seen[0] != "GET /api/v1/namespaces/runners/pods?"+wantQuery {
		t.Errorf("list request = %q", seen[0])
	}
	vms, _ := New(Options{ControllerID: controllerID, Namespace: "runners", Core: core, Dynamic: dyn, Mode: ModeKubeVirt})
	list, err = vms.List(t.Context())
	if err != nil || len(list) != 1 || list[0].Name != "v1" || list[0].Status != "error" {
		t.Fatalf("VMI list = %+v, %v", list, err)
	}
	if err := pods.Delete(t.Context(), "r1"); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/api/v1/namespaces/runners/pods/r1", "/api/v1/namespaces/runners/secrets/r1-boot"} {
		o := deletes[path]
		if o.PropagationPolicy == nil || *o.PropagationPolicy != metav1.DeletePropagationForeground ||
			o.Preconditions == nil || o.Preconditions.UID == nil || *o.Preconditions.UID == "" {
			t.Errorf("DELETE %s body = %v", path, o)
		}
	}
	if err := vms.Delete(t.Context(), "gone"); err != nil {
		t.Errorf("delete of a VMI the server does not have: %v", err)
	}
}
