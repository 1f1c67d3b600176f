package lxd_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/paddock-ci/paddock/internal/provider"
	"github.com/paddock-ci/paddock/internal/provider/lxd"
	"github.com/paddock-ci/paddock/internal/provider/providertest"
)

// TestConformance runs the provider suite against the real daemon. The
// provider dials a symlink to the daemon's socket, so FailList can take the
// daemon away (as a stopped daemon does) by removing the link.
func TestConformance(t *testing.T) {
	providertest.Run(t, func(t *testing.T) *providertest.Harness {
		proj := project(t, needLXD(t))
		link := filepath.Join(t.TempDir(), "lxd.socket")
		if err := os.Symlink(socket, link); err != nil {
			t.Fatal(err)
		}
		img := image
		newP := func(t *testing.T, cid string) *lxd.Provider {
			o := options(proj, cid)
			o.Socket = link
			p, err := lxd.New(o)
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		return &providertest.Harness{
			New:       func(t *testing.T, cid string) provider.Provider { return newP(t, cid) },
			Spec:      func(s *provider.Spec) { s.Image = img },
			CallsBack: true,
			CrashMidCreate: func(t *testing.T, s provider.Spec) {
				if err := lxd.CreateOnly(context.Background(), newP(t, "c1"), s); err != nil {
					t.Fatal(err)
				}
			},
			CrashAfterStart: func(t *testing.T, s provider.Spec) func() bool {
				// The suite's URLs lead nowhere and the container would power
				// off at once: this manager keeps it waiting instead.
				s.MetadataURL = hanging(t) + "/api/v1/metadata"
				if _, err := newP(t, "c1").Create(context.Background(), s); err != nil {
					t.Fatal(err)
				}
				return func() bool { return lxd.NewAdmin(socket, proj).Status(context.Background(), s.Name) == "Running" }
			},
			// Creating a container unpacks the image: far longer than the
			// suite's 300 ms deadline.
			Slow:       func(*testing.T, provider.Provider, provider.Spec) {},
			FailCreate: func(*testing.T) { img = "pdk-no-such-image" },
			FailList: func(t *testing.T, _ provider.Provider) {
				if err := os.Remove(link); err != nil {
					t.Fatal(err)
				}
			},
		}
	})
}

// hanging serves requests that get no answer until the test ends.
func hanging(t *testing.T) string {
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-done:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(done); srv.Close() })
	return srv.URL
}
