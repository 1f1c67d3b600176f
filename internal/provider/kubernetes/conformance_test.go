package kubernetes

import (
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clienttesting "k8s.io/client-go/testing"

	"github.com/paddock-ci/paddock/internal/provider"
	"github.com/paddock-ci/paddock/internal/provider/providertest"
)

// TestConformance runs the suite on client-go's fake clients, in both modes.
// Cancellation is not tested: the fake clients do not look at contexts.
func TestConformance(t *testing.T) {
	for _, mode := range []string{"pod", "kubevirt"} {
		t.Run(mode, func(t *testing.T) {
			providertest.Run(t, func(t *testing.T) *providertest.Harness {
				c := newCluster(t)
				newP := func(t *testing.T, cid string) *Provider {
					return c.provider(t, func(o *Options) { o.ControllerID, o.Mode = cid, mode })
				}
				boom := func(clienttesting.Action) (bool, runtime.Object, error) {
					return true, nil, errors.New("the API server is unavailable")
				}
				resource := "pods"
				fail := func(verb string) {
					if mode == "kubevirt" {
						c.dyn.PrependReactor(verb, VMIResource.Resource, boom)
					} else {
						c.core.Fake.PrependReactor(verb, resource, boom)
					}
				}
				h := &providertest.Harness{
					New:        func(t *testing.T, cid string) provider.Provider { return newP(t, cid) },
					Spec:       func(s *provider.Spec) { s.Image = "ghcr.io/example/runner:2.330" },
					FailCreate: func(*testing.T) { fail("create") },
					FailList:   func(*testing.T, provider.Provider) { fail("list") },
				}
				if mode == "pod" {
					// A Create that stopped after writing the Secret.
					h.CrashMidCreate = func(t *testing.T, s provider.Spec) {
						p := newP(t, "c1")
						sec := &corev1.Secret{ObjectMeta: p.meta(s.Name, s.PoolID), Data: map[string][]byte{"token": []byte("old")}}
						sec.Name = s.Name + "-boot"
						if _, err := c.core.Secrets("runners").Create(t.Context(), sec, metav1.CreateOptions{}); err != nil {
							t.Fatal(err)
						}
					}
				}
				return h
			})
		})
	}
}
