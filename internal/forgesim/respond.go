package forgesim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const docsURL = "https://docs.github.com/rest"

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers in GitHub's basic-error shape.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{
		"message":           msg,
		"documentation_url": docsURL,
		"status":            strconv.Itoa(status),
	})
}

// ghTime formats like GitHub: RFC 3339 in UTC, whole seconds.
func ghTime(t time.Time) string { return t.UTC().Truncate(time.Second).Format(time.RFC3339) }

// ghTimePtr is ghTime, or JSON null for the zero time.
func ghTimePtr(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := ghTime(t)
	return &s
}

// page reads GitHub's per_page (default 30, at most 100) and page (from 1).
func page(r *http.Request) (perPage, pageNo int, err error) {
	perPage, pageNo = 30, 1
	q := r.URL.Query()
	if v := q.Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return 0, 0, fmt.Errorf("per_page must be a positive integer, got %q", v)
		}
		perPage = min(n, 100)
	}
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return 0, 0, fmt.Errorf("page must be a positive integer, got %q", v)
		}
		pageNo = n
	}
	return perPage, pageNo, nil
}

// paginate slices total items for the request and sets the Link header the
// way GitHub does (next/last, prev/first where they exist).
func paginate(w http.ResponseWriter, r *http.Request, base string, total int) (lo, hi int, ok bool) {
	perPage, pageNo, err := page(r)
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, err.Error())
		return 0, 0, false
	}
	last := max(1, (total+perPage-1)/perPage)
	link := func(p int, rel string) string {
		u, _ := url.Parse(strings.TrimSuffix(base, "/") + r.URL.Path)
		q := r.URL.Query()
		q.Set("per_page", strconv.Itoa(perPage))
		q.Set("page", strconv.Itoa(p))
		u.RawQuery = q.Encode()
		return fmt.Sprintf("<%s>; rel=%q", u.String(), rel)
	}
	var links []string
	if pageNo < last {
		links = append(links, link(pageNo+1, "next"), link(last, "last"))
	}
	if pageNo > 1 {
		links = append(links, link(min(pageNo-1, last), "prev"), link(1, "first"))
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	lo = min((pageNo-1)*perPage, total)
	hi = min(lo+perPage, total)
	return lo, hi, true
}
