package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
)

// getList GETs path and returns the decoded array and the response headers.
func getList[T any](t *testing.T, h *harness, path string) ([]T, http.Header) {
	t.Helper()
	req, err := http.NewRequest("GET", h.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: status %d", path, resp.StatusCode)
	}
	var out []T
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("GET %s: body is not a JSON array: %v", path, err)
	}
	return out, resp.Header
}

func TestJobPaging(t *testing.T) {
	h := newHarness(t, nil)
	h.seed()
	ctx := context.Background()
	app, _ := h.st.GetEntity(ctx, "acme/app")
	base := time.Now().Add(-time.Hour)
	const total = MaxPageSize + 5
	for id := int64(1); id <= total; id++ {
		j := core.Job{ID: id, EntityID: app.ID, State: core.JobQueued, ReceivedAt: base.Add(time.Duration(id) * time.Second)}
		if id%2 == 0 {
			j.State = core.JobCompleted
		}
		if _, err := h.st.UpsertJob(ctx, &j); err != nil {
			t.Fatal(err)
		}
	}

	// No limit: a client written before paging gets one bounded page, newest first.
	list, hdr := getList[JobView](t, h, "/api/v1/jobs")
	if len(list) != MaxPageSize || list[0].ID != total || hdr.Get(NextCursorHeader) == "" {
		t.Fatalf("unpaged list: %d jobs, first %d, next %q", len(list), list[0].ID, hdr.Get(NextCursorHeader))
	}
	if link := hdr.Get("Link"); !strings.HasPrefix(link, "</api/v1/jobs?cursor=") || !strings.HasSuffix(link, `>; rel="next"`) {
		t.Fatalf("Link header %q", link)
	}

	// Walking with a limit and the filters kept visits each matching job once, newest first.
	seen := map[int64]bool{}
	prev := int64(total + 1)
	path := "/api/v1/jobs?state=queued&limit=100"
	pages := 0
	for path != "" {
		list, hdr := getList[JobView](t, h, path)
		pages++
		for _, j := range list {
			if j.State != core.JobQueued || seen[j.ID] || j.ID >= prev {
				t.Fatalf("page %d: job %d (state %s) out of order or repeated", pages, j.ID, j.State)
			}
			seen[j.ID], prev = true, j.ID
		}
		path = ""
		if next := hdr.Get(NextCursorHeader); next != "" {
			path = "/api/v1/jobs?state=queued&limit=100&cursor=" + next
		}
	}
	if len(seen) != (total+1)/2 || pages != 6 {
		t.Fatalf("walk saw %d queued jobs in %d pages, want %d in 6", len(seen), pages, (total+1)/2)
	}

	_, hdr = getList[JobView](t, h, "/api/v1/jobs?limit=0")
	if hdr.Get(NextCursorHeader) == "" {
		t.Fatal("limit=0 gave no next cursor with more than a page of jobs")
	}
	h.wantError(400, "GET", fmt.Sprintf("/api/v1/jobs?limit=%d", MaxPageSize+1), nil, "limit", "1000", NextCursorHeader)
	h.wantError(400, "GET", "/api/v1/jobs?cursor=not-a-cursor", nil, "cursor", "without cursor=")
}

func TestInstancePaging(t *testing.T) {
	h := newHarness(t, nil)
	h.seed()
	p := h.pool("linux")
	for n := range 5 {
		i := core.Instance{Name: fmt.Sprintf("linux-%d", n), PoolID: p.ID}
		if err := h.st.CreateInstance(context.Background(), &i); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	path := "/api/v1/instances?pool=linux&limit=2"
	for range 10 {
		list, hdr := getList[InstanceView](t, h, path)
		for _, i := range list {
			names = append(names, i.Name)
		}
		next := hdr.Get(NextCursorHeader)
		if next == "" {
			break
		}
		path = "/api/v1/instances?pool=linux&limit=2&cursor=" + next
	}
	if got := strings.Join(names, ","); got != "linux-0,linux-1,linux-2,linux-3,linux-4" {
		t.Fatalf("walk: %s", got)
	}
	h.wantError(400, "GET", "/api/v1/instances?limit=x", nil, "limit")
	h.wantError(400, "GET", "/api/v1/instances?cursor=zzz", nil, "cursor")
}
