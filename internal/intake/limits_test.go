package intake_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/httplimit"
)

func jobPayload(id int64, name string, labels []string) []byte {
	b, _ := json.Marshal(map[string]any{
		"action": "queued",
		"workflow_job": map[string]any{"id": id, "run_id": 7, "status": "queued", "name": name, "labels": labels,
			"created_at": "2026-11-25T10:00:00Z"},
		"repository": map[string]any{"id": 1, "name": "app", "full_name": "acme/app", "owner": map[string]any{"login": "acme"}},
	})
	return b
}

// TestAbsurdValuesRefused: even signed, a delivery with a negative job id
// (Paddock's placeholder space), too many or too long labels, or a huge name
// is refused with a reason and handed to nobody.
func TestAbsurdValuesRefused(t *testing.T) {
	srv, rec := setup(t)
	many := make([]string, 65)
	for i := range many {
		many[i] = "l"
	}
	for _, tc := range []struct {
		name string
		body []byte
		want string
	}{
		{"negative id", jobPayload(-5, "build", []string{"linux"}), "not a positive number"},
		{"too many labels", jobPayload(1, "build", many), "65 labels; at most 64"},
		{"huge label", jobPayload(2, "build", []string{strings.Repeat("x", 5<<20)}), "at most 256 bytes"},
		{"huge name", jobPayload(3, strings.Repeat("n", 2000), []string{"linux"}), "longer than 1024 bytes"},
	} {
		code, out := post(t, srv.URL, "workflow_job", "a-"+tc.name, sign(tc.body), tc.body)
		if code != http.StatusBadRequest || !strings.Contains(out, tc.want) {
			t.Errorf("%s: %d %s", tc.name, code, out)
		}
	}
	if rec.count() != 0 {
		t.Fatalf("%d absurd events handed over", rec.count())
	}
}

// TestLargestSignedDeliveryBehindPreauth: GitHub's 25 MB cap still works for
// a signed delivery behind the manager's pre-authentication limits.
func TestLargestSignedDeliveryBehindPreauth(t *testing.T) {
	p := &httplimit.Preauth{Budget: httplimit.NewBudget(64<<20, 8), MaxBody: 25 << 20, ReadTimeout: 20 * time.Second}
	srv, rec := setupWrapped(t, p.Wrap)
	body := jobPayload(9, "big", []string{"linux"})
	// Pad with a large ignored field up to just under 25 MB.
	pad := 25<<20 - len(body) - 20
	body = append(body[:len(body)-1], []byte(`,"pad":"`+strings.Repeat("p", pad)+`"}`)...)
	if len(body) > 25<<20 {
		t.Fatalf("payload %d bytes", len(body))
	}
	code, out := post(t, srv.URL, "workflow_job", "big-1", sign(body), body)
	if code != http.StatusOK || rec.count() != 1 {
		t.Fatalf("25 MB signed delivery: %d %s, %d events", code, out, rec.count())
	}
	if b, n := p.Budget.InUse(); b != 0 || n != 0 {
		t.Fatalf("budget not returned: %d bytes %d requests", b, n)
	}
}
