package ghcontract

import (
	"encoding/json"
	"fmt"
	"os"
)

// WebhookExamples returns GitHub's published example payloads for one event
// type (e.g. "workflow_job"), as raw JSON exactly as GitHub documents them.
func WebhookExamples(event string) ([]json.RawMessage, error) {
	path := ExamplesPath()
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("GitHub webhook examples missing (%v): %s", err, SetupHint)
	}
	var events []struct {
		Name     string            `json:"name"`
		Examples []json.RawMessage `json:"examples"`
	}
	if err := json.Unmarshal(data, &events); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	for _, e := range events {
		if e.Name == event {
			if len(e.Examples) == 0 {
				return nil, fmt.Errorf("%s: event %q has no examples", path, event)
			}
			return e.Examples, nil
		}
	}
	return nil, fmt.Errorf("%s: no event %q", path, event)
}
