package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/paddock-ci/paddock/internal/api"
)

// listPaged fetches path page by page, following the server's next cursor,
// until limit objects (0 = all of them) or the last page, and shows them as
// one list (one JSON array with -o json).
func listPaged[T any](g *globals, cmd *cobra.Command, path string, q url.Values, limit int, render func(io.Writer, []T)) error {
	c, err := g.client()
	if err != nil {
		return err
	}
	all := []json.RawMessage{}
	cursor := ""
	for {
		size := api.MaxPageSize
		if limit > 0 {
			size = min(size, limit-len(all))
		}
		q.Set("limit", strconv.Itoa(size))
		data, hdr, err := c.doHeader(cmd.Context(), http.MethodGet, path, q, nil, nil)
		if err != nil {
			return err
		}
		var page []json.RawMessage
		if err := json.Unmarshal(data, &page); err != nil {
			return fmt.Errorf("unexpected answer from the server: %w", err)
		}
		all = append(all, page...)
		next := hdr.Get(api.NextCursorHeader)
		if next == "" || len(page) == 0 || (limit > 0 && len(all) >= limit) {
			break
		}
		if next == cursor {
			return fmt.Errorf("the server sent the same page cursor twice; listing stopped after %d objects", len(all))
		}
		cursor = next
		q.Set("cursor", next)
	}
	if limit > 0 && len(all) > limit {
		all = all[:limit] // a server from before paging ignores limit on some lists
	}
	data, err := json.Marshal(all)
	if err != nil {
		return err
	}
	var v []T
	return g.emit(cmd, data, &v, func(w io.Writer) { render(w, v) })
}
