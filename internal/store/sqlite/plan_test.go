package sqlite

import (
	"strings"
	"testing"
)

// TestQueryPlansUseIndexes pins the plans that keep paging and lookups cheap
// with hundreds of thousands of rows: no full scan, no sort of the whole table.
func TestQueryPlansUseIndexes(t *testing.T) {
	s := openAt(t, ":memory:")
	for _, tc := range []struct{ name, q string }{
		{"job by id", "SELECT data FROM jobs WHERE id = 5"},
		{"jobs page", "SELECT data FROM jobs WHERE (received_at, entity_id, id) < (1, 'e', 2) ORDER BY received_at DESC, entity_id DESC, id DESC LIMIT 11"},
		{"jobs page of an entity", "SELECT data FROM jobs WHERE entity_id = 'e' AND (received_at, entity_id, id) < (1, 'e', 2) ORDER BY received_at DESC, entity_id DESC, id DESC LIMIT 11"},
		{"jobs page in one state", "SELECT data FROM jobs WHERE state IN ('queued') AND (received_at, entity_id, id) < (1, 'e', 2) ORDER BY received_at DESC, entity_id DESC, id DESC LIMIT 11"},
		{"instances page", "SELECT data FROM instances WHERE (created_at, name) > (1, 'n') ORDER BY created_at, name LIMIT 11"},
		{"job purge batch", "SELECT rowid FROM jobs WHERE state = 'completed' AND updated_at < 5 LIMIT 500"},
		{"instance purge batch", "SELECT rowid FROM instances WHERE state = 'deleted' AND updated_at < 5 LIMIT 500"},
		{"instances changed", "SELECT data FROM instances WHERE seq > 5 ORDER BY seq"},
		{"jobs changed", "SELECT data FROM jobs WHERE seq > 5 ORDER BY seq"},
		{"live instances counted", "SELECT count(*) FROM instances WHERE state IN ('running', 'creating')"},
		{"queued jobs counted", "SELECT count(*) FROM jobs WHERE state = 'queued'"},
		{"delivery purge batch", "SELECT rowid FROM deliveries WHERE at < 5 LIMIT 500"},
	} {
		rows, err := s.r.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+tc.q)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		all := strings.Join(plan, "; ")
		if !strings.Contains(all, "INDEX") || strings.Contains(all, "TEMP B-TREE") {
			t.Errorf("%s: plan %q", tc.name, all)
		}
	}
}
