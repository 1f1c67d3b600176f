package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The Gitea/Forgejo mode stands in for act_runner (`daemon --once`) and
// forgejo-runner (`one-job`): it reads the `.runner` file in its working
// directory, fetches one task over the runner RPCs with the runner's uuid
// and token, runs it and reports the result.

// IsGiteaInvocation says whether args are an act_runner/forgejo-runner command line.
func IsGiteaInvocation(args []string) bool {
	return len(args) > 0 && (args[0] == "daemon" || args[0] == "one-job")
}

// parseGiteaArgs accepts `daemon --once` and `one-job [--wait]`.
func parseGiteaArgs(args []string, ephemeral bool) error {
	flags := map[string]bool{}
	for _, a := range args[1:] {
		switch a {
		case "--once", "--wait", "-w":
			flags[strings.TrimLeft(a, "-")] = true
		default:
			return fmt.Errorf("unknown argument %q (usage: daemon --once | one-job [--wait])", a)
		}
	}
	if args[0] == "daemon" && !flags["once"] && !ephemeral {
		return errors.New("daemon without --once on a non-ephemeral runner would take more than one job")
	}
	return nil
}

// giteaUsage is the stand-in's help, which lists --wait as forgejo-runner's
// `one-job --help` does (the bootstrap checks for it).
const giteaUsage = `Usage:
  daemon --once       take one task, then exit
  one-job [--wait]    run only one job
Flags:
  -w, --wait          wait for a job instead of exiting when none is queued
`

// RunGitea is the act_runner/forgejo-runner stand-in's main.
func RunGitea(ctx context.Context, args []string, dir string, out io.Writer) error {
	if len(args) > 1 && (args[1] == "--help" || args[1] == "-h") {
		_, err := io.WriteString(out, giteaUsage)
		return err
	}
	raw, err := os.ReadFile(filepath.Join(dir, ".runner"))
	if err != nil {
		return fmt.Errorf("%w: registration file: %v", ErrRefused, err)
	}
	var rf runnerFile
	if err := json.Unmarshal(raw, &rf); err != nil || rf.UUID == "" || rf.Token == "" || rf.Address == "" {
		return fmt.Errorf("%w: .runner lacks uuid, token or address", ErrRefused)
	}
	if err := parseGiteaArgs(args, rf.Ephemeral); err != nil {
		return err
	}
	rc := &rpcClient{base: strings.TrimRight(rf.Address, "/") + "/api/actions/runner.v1.RunnerService/",
		uuid: rf.UUID, token: rf.Token, hc: &http.Client{Timeout: pollTimeout}}
	fmt.Fprintf(out, "agent: runner %d %q (gitea mode) polling %s\n", rf.ID, rf.Name, rf.Address)
	task, err := rc.fetch(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "agent: running task %d %q\n", task.JobID, task.Name)
	conclusion := runJob(ctx, assignedJob{ID: task.JobID, Name: task.Name, DurationMS: task.DurationMS,
		Command: task.Command}, out)
	result := "RESULT_SUCCESS"
	if conclusion != conclusionSuccess {
		result = "RESULT_FAILURE"
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	state := map[string]any{"state": map[string]any{"id": strconv.FormatInt(task.JobID, 10), "result": result}}
	if _, err := rc.call(rctx, "UpdateTask", state); err != nil {
		return fmt.Errorf("reporting task %d: %w", task.JobID, err)
	}
	fmt.Fprintf(out, "agent: task %d finished: %s\n", task.JobID, conclusion)
	return ctx.Err()
}

type rpcClient struct {
	base, uuid, token string
	hc                *http.Client
}

// call sends one unary Connect JSON request, retrying transient failures.
func (c *rpcClient) call(ctx context.Context, rpc string, msg any) ([]byte, error) {
	body, _ := json.Marshal(msg)
	wait := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		data, err := c.once(ctx, rpc, body)
		if err == nil || !transient(err) || attempt == maxAttempts {
			return data, err
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		wait = min(wait*2, maxBackoff)
	}
}

func (c *rpcClient) once(ctx context.Context, rpc string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+rpc, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Connect-Protocol-Version", "1")
	req.Header.Set("x-runner-uuid", c.uuid)
	req.Header.Set("x-runner-token", c.token)
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &statusError{resp.StatusCode, string(data)}
	}
	return data, nil
}

// fetch polls FetchTask until a task arrives; a runner the forge no longer
// knows (deleted while idle) ends with ErrRemoved.
func (c *rpcClient) fetch(ctx context.Context) (simTask, error) {
	for {
		data, err := c.call(ctx, "FetchTask", map[string]any{"tasksVersion": "0"})
		var se *statusError
		switch {
		case errors.As(err, &se) && se.code == http.StatusUnauthorized:
			return simTask{}, ErrRemoved
		case err != nil:
			return simTask{}, fmt.Errorf("fetching a task: %w", err)
		}
		var resp struct {
			Task *struct {
				Context simTask `json:"context"`
			} `json:"task"`
		}
		if err := json.Unmarshal(data, &resp); err != nil {
			return simTask{}, fmt.Errorf("bad FetchTask answer %q", data)
		}
		if resp.Task != nil && resp.Task.Context.JobID != 0 {
			return resp.Task.Context, nil
		}
		if ctx.Err() != nil {
			return simTask{}, ctx.Err()
		}
	}
}
