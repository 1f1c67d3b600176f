package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/paddock-ci/paddock/internal/core"
)

func newEventsCmd(g *globals) *cobra.Command {
	var after int64
	var once bool
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Follow the manager's event stream (jobs, instances, pools) until interrupted",
		Long: `Prints events as they happen: jobs queued, assigned, running and done;
instances changing state and why; pools failing, recovering, drained or enabled.
With -o json each event is one JSON object per line.

The stream reconnects by itself after the manager restarts and resumes where it
left off. --after 0 replays every event the manager still keeps (72 hours).
A viewer token (PADDOCK_VIEWER_TOKEN) is enough to follow events.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if g.token == "" {
				g.token = os.Getenv("PADDOCK_VIEWER_TOKEN")
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			f := &follower{c: c, out: cmd.OutOrStdout(), errOut: cmd.ErrOrStderr(), json: g.output == "json", last: after,
				pools: poolNames(cmd.Context(), c)}
			return f.run(cmd.Context(), once)
		},
	}
	cmd.Flags().Int64Var(&after, "after", -1, "replay events after this id (0 = all kept); default: new events only")
	cmd.Flags().BoolVar(&once, "no-reconnect", false, "exit when the stream ends instead of reconnecting")
	return cmd
}

// poolNames maps pool ids to names for readable lines; a viewer token may
// not list pools, and then ids are shown.
func poolNames(ctx context.Context, c *client) map[string]string {
	out := map[string]string{}
	data, err := c.do(ctx, http.MethodGet, "/api/v1/pools", nil, nil)
	if err != nil {
		return out
	}
	var pools []core.Pool
	if json.Unmarshal(data, &pools) == nil {
		for _, p := range pools {
			out[p.ID] = p.Name
		}
	}
	return out
}

type follower struct {
	c      *client
	out    io.Writer
	errOut io.Writer
	json   bool
	last   int64 // -1: start from now
	pools  map[string]string
}

func (f *follower) run(ctx context.Context, once bool) error {
	backoff := time.Second
	for {
		got, err := f.stream(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if ae := (*APIError)(nil); errors.As(err, &ae) && ae.Status != http.StatusServiceUnavailable && ae.Status != 0 {
			return err // a wrong token or a bad --after will not fix itself
		}
		if once {
			return err
		}
		if got {
			backoff = time.Second
		}
		fmt.Fprintf(f.errOut, "events: stream ended (%v); reconnecting in %s\n", errText(err), backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

func errText(err error) string {
	if err == nil {
		return "closed by the server"
	}
	return err.Error()
}

// stream reads one connection until it ends; got says whether it delivered anything.
func (f *follower) stream(ctx context.Context) (got bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.c.base+"/api/v1/events", nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Authorization", "Bearer "+f.c.token)
	req.Header.Set("Accept", "text/event-stream")
	if f.last >= 0 {
		req.Header.Set("Last-Event-ID", strconv.FormatInt(f.last, 10))
	}
	// No client timeout: the stream is meant to stay open; heartbeats keep it alive.
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		return false, f.c.transportError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		ae := apiError(resp.StatusCode, data, "/api/v1/events")
		return false, ae
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var data string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "id: "):
			// The stream opens with the id it starts after: the resume point
			// even before the first event.
			if id, err := strconv.ParseInt(line[len("id: "):], 10, 64); err == nil {
				f.last = id
			}
		case strings.HasPrefix(line, "data: "):
			data = line[len("data: "):]
		case line == "" && data != "":
			var e core.Event
			if err := json.Unmarshal([]byte(data), &e); err == nil {
				f.last, got = e.ID, true
				f.print(e, data)
			}
			data = ""
		}
	}
	return got, sc.Err()
}

func (f *follower) print(e core.Event, raw string) {
	if f.json {
		fmt.Fprintln(f.out, raw)
		return
	}
	fmt.Fprintln(f.out, sanitize(FormatEvent(e, f.pools), ""))
}

// FormatEvent renders one event as a readable line.
func FormatEvent(e core.Event, pools map[string]string) string {
	pool := e.Pool
	if pool == "" {
		pool = pools[e.PoolID]
	}
	if pool == "" {
		pool = e.PoolID
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s  %-16s", e.At.Local().Format("15:04:05"), e.Kind)
	add := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, " %s=%s", k, v)
		}
	}
	if e.JobID != 0 {
		add("job", strconv.FormatInt(e.JobID, 10))
	}
	add("instance", e.Instance)
	add("pool", pool)
	if e.From != "" {
		add("state", e.From+"→"+e.State)
	} else {
		add("state", e.State)
	}
	switch e.Kind {
	case core.EventJobRunning:
		if e.Seconds > 0 {
			add("waited", short(time.Duration(e.Seconds*float64(time.Second))))
		}
	case core.EventJobDone:
		if e.Seconds > 0 {
			add("ran", short(time.Duration(e.Seconds*float64(time.Second))))
		}
	}
	if e.Reason != "" {
		fmt.Fprintf(&b, " reason=%q", e.Reason)
	}
	return b.String()
}
