package kubernetes

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	fakecorev1 "k8s.io/client-go/kubernetes/typed/core/v1/fake"
	clienttesting "k8s.io/client-go/testing"

	"github.com/paddock-ci/paddock/internal/provider"
)

// fakePAT is a forge credential that must never reach the cluster.
const fakePAT = "ghp_FAKEpersonalACCESStoken0123456789abcd"

const controllerID = "3f1c9a5e-1111-4222-8333-944455556666"

// cluster is client-go's fake core/v1 client and dynamic client over object
// trackers. A real API server assigns UIDs on create, which the owner
// references depend on; the reactors do the same here.
type cluster struct {
	core *fakecorev1.FakeCoreV1
	dyn  *dynamicfake.FakeDynamicClient
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	tracker := clienttesting.NewObjectTracker(scheme, serializer.NewCodecFactory(scheme).UniversalDecoder())
	fake := &clienttesting.Fake{}
	var n atomic.Int64
	assignUID := func(a clienttesting.Action) (bool, runtime.Object, error) {
		if obj, ok := a.(clienttesting.CreateAction).GetObject().(metav1.Object); ok && obj.GetUID() == "" {
			obj.SetUID(types.UID(fmt.Sprintf("uid-%d", n.Add(1))))
		}
		return false, nil, nil
	}
	fake.AddReactor("create", "*", assignUID)
	fake.AddReactor("*", "*", clienttesting.ObjectReaction(tracker))
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{VMIResource: "VirtualMachineInstanceList"})
	dyn.PrependReactor("create", "*", assignUID)
	return &cluster{core: &fakecorev1.FakeCoreV1{Fake: fake}, dyn: dyn}
}

func (c *cluster) provider(t *testing.T, mutate func(*Options)) *Provider {
	t.Helper()
	o := Options{ControllerID: controllerID, Namespace: "runners", Core: c.core, Dynamic: c.dyn}
	if mutate != nil {
		mutate(&o)
	}
	p, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func testSpec(name string) provider.Spec {
	return provider.Spec{
		Name: name, ControllerID: controllerID, PoolID: "pool-7", Image: "ghcr.io/example/runner:2.330",
		OSType: "linux", Arch: "x64", Labels: []string{"self-hosted", "linux"},
		MetadataURL: "http://paddock.example:8080/api/v1/metadata", CallbackURL: "http://paddock.example:8080/api/v1/callbacks",
		Token: "inst-token-" + name,
		// ExtraSpecs pass through to providers that read them; a careless
		// adapter could copy them into an object.
		ExtraSpecs: json.RawMessage(`{"github_token":"` + fakePAT + `"}`),
	}
}

// everything is every object in the fake cluster, as JSON.
func (c *cluster) everything(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, a := range []func() (any, error){
		func() (any, error) { return c.core.Pods("").List(t.Context(), metav1.ListOptions{}) },
		func() (any, error) { return c.core.Secrets("").List(t.Context(), metav1.ListOptions{}) },
		func() (any, error) {
			return c.dyn.Resource(VMIResource).Namespace("").List(t.Context(), metav1.ListOptions{})
		},
	} {
		v, err := a()
		if err != nil {
			t.Fatal(err)
		}
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(j)
	}
	return b.String()
}

// deletes lists the delete actions the fakes saw.
func (c *cluster) deletes() []clienttesting.DeleteActionImpl {
	var out []clienttesting.DeleteActionImpl
	for _, a := range append(c.core.Actions(), c.dyn.Actions()...) {
		if d, ok := a.(clienttesting.DeleteActionImpl); ok {
			out = append(out, d)
		}
	}
	return out
}
