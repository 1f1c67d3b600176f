package api

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/paddock-ci/paddock/internal/store"
)

// Lists of jobs and instances are paged: ?limit=N (1..MaxPageSize; absent or
// 0 means MaxPageSize) and ?cursor=C. The body stays a plain JSON array so
// clients written before paging keep working; the cursor of the next page is
// in the NextCursorHeader header and, for generic HTTP clients, a Link header
// with rel="next" (RFC 8288). No such headers: that was the last page.
const (
	// MaxPageSize bounds one page so no request makes the server read and
	// encode an unbounded list (300,000 jobs were 190 MB as one answer).
	MaxPageSize = 1000
	// NextCursorHeader carries the opaque cursor of the next page.
	NextCursorHeader = "Paddock-Next-Cursor"
)

// pageOf reads limit and cursor from the query.
func pageOf(q url.Values) (store.Page, error) {
	p := store.Page{Limit: MaxPageSize, Cursor: q.Get("cursor")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > MaxPageSize {
			return p, badRequest("limit=%q must be an integer from 1 to %d (0 means %d); fetch more with the cursor of the %s header",
				v, MaxPageSize, MaxPageSize, NextCursorHeader)
		}
		if n > 0 {
			p.Limit = n
		}
	}
	return p, nil
}

// pageErr turns a cursor the store refuses into a client error.
func pageErr(err error) error {
	if errors.Is(err, store.ErrBadCursor) {
		return badRequest("cursor is not valid for this list; start again without cursor= (%v)", err)
	}
	return err
}

// setNext announces the next page, if any.
func setNext(w http.ResponseWriter, r *http.Request, next string) {
	if next == "" {
		return
	}
	q := r.URL.Query()
	q.Set("cursor", next)
	w.Header().Set(NextCursorHeader, next)
	w.Header().Set("Link", fmt.Sprintf("<%s?%s>; rel=\"next\"", r.URL.Path, q.Encode()))
}
