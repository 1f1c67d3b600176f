package codec

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/paddock-ci/paddock/internal/store"
)

// Paged lists use keyset paging: the cursor holds the sort key of the last
// object handed out and the next page starts after it. Unlike OFFSET, a page
// costs its own size however deep it is, and rows inserted or removed
// meanwhile never shift later pages.

// JobCursor is the sort key of a job in ListJobsPage order.
type JobCursor struct {
	List     string `json:"l"`
	Received int64  `json:"r"`
	EntityID string `json:"e"`
	ID       int64  `json:"i"`
}

// InstanceCursor is the sort key of an instance in ListInstancesPage order.
type InstanceCursor struct {
	List    string `json:"l"`
	Created int64  `json:"c"`
	Name    string `json:"n"`
}

// EncodeCursor makes an opaque cursor of a sort key.
func EncodeCursor(v any) string {
	b, _ := json.Marshal(v) // plain structs: cannot fail
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor fills v from c and checks it was made for list.
func DecodeCursor(c, list string, v any, kind func() string) error {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err == nil {
		err = json.Unmarshal(b, v)
	}
	if err == nil && kind() != list {
		err = errors.New("cursor of another list")
	}
	if err != nil {
		return fmt.Errorf("cursor %q: %w", c, store.ErrBadCursor)
	}
	return nil
}

// CheckPage refuses a page size below 1.
func CheckPage(p store.Page) error {
	if p.Limit < 1 {
		return fmt.Errorf("page limit %d: must be at least 1", p.Limit)
	}
	return nil
}
