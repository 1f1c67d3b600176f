package forgesim

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// FetchTask plays a Gitea or Forgejo runner for tests: one FetchTask call
// of the runner RPC at address (the .runner file's address) with the
// runner's uuid and token. It returns the HTTP status and the answer body;
// a long-polling sim holds the call until a task is assigned or its
// LongPoll passes.
func FetchTask(ctx context.Context, address, uuid, token string) (int, []byte, error) {
	url := strings.TrimSuffix(address, "/") + "/api/actions/runner.v1.RunnerService/FetchTask"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader([]byte(`{"tasksVersion":"0"}`)))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-runner-uuid", uuid)
	req.Header.Set("x-runner-token", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("FetchTask: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("FetchTask: reading the answer: %w", err)
	}
	return resp.StatusCode, b, nil
}
