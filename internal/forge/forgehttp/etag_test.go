package forgehttp_test

import (
	"testing"

	"github.com/paddock-ci/paddock/internal/forge/forgehttp"
)

func TestETagCacheForgetsWhatACompletePassNoLongerSaw(t *testing.T) {
	var c forgehttp.ETagCache[int64, string]
	c.Keep("o/r", map[int64]forgehttp.Cached[string]{1: {ETag: `"a"`, Value: "run 1"}, 2: {ETag: `"b"`, Value: "run 2"}}, true)
	c.Keep("o/r", map[int64]forgehttp.Cached[string]{3: {ETag: `"c"`, Value: "run 3"}}, false)
	for _, id := range []int64{1, 2, 3} {
		if _, ok := c.Get("o/r", id); !ok {
			t.Fatalf("run %d lost by an incomplete pass", id)
		}
	}
	c.Keep("o/r", map[int64]forgehttp.Cached[string]{2: {ETag: `"b2"`, Value: "run 2 again"}, 4: {Value: "no validator"}}, true)
	if _, ok := c.Get("o/r", 1); ok {
		t.Fatal("run 1 kept after a complete pass without it")
	}
	if e, ok := c.Get("o/r", 2); !ok || e.ETag != `"b2"` || e.Value != "run 2 again" {
		t.Fatalf("run 2 = %+v %v", e, ok)
	}
	if _, ok := c.Get("o/r", 4); ok {
		t.Fatal("an answer without a validator cannot be asked for conditionally")
	}
	if _, ok := c.Get("other/repo", 2); ok {
		t.Fatal("scopes leak into each other")
	}
}
