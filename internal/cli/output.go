package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// emit prints a server answer: raw (re-indented) JSON with -o json, else the
// table that render writes after decoding into v.
func (g *globals) emit(cmd *cobra.Command, data []byte, v any, render func(io.Writer)) error {
	out := cmd.OutOrStdout()
	if g.output == "json" {
		var buf bytes.Buffer
		if err := json.Indent(&buf, data, "", "  "); err != nil {
			return fmt.Errorf("server sent invalid JSON: %w", err)
		}
		buf.WriteByte('\n')
		_, err := out.Write(buf.Bytes())
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("unexpected answer from the server: %w", err)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	render(safeWriter{tw})
	return tw.Flush()
}

// row writes one tab-separated line; empty cells print as "-" so columns stay aligned.
func row(w io.Writer, cells ...string) {
	for i, c := range cells {
		cells[i] = cell(c)
		if c == "" {
			cells[i] = "-"
		}
	}
	fmt.Fprintln(w, strings.Join(cells, "\t"))
}

// fields prints a vertical key/value listing for show commands.
func fields(w io.Writer, kv ...string) {
	for i := 0; i+1 < len(kv); i += 2 {
		v := cell(kv[i+1])
		if v == "" {
			v = "-"
		}
		fmt.Fprintf(w, "%s:\t%s\n", kv[i], v)
	}
}

// age renders how long ago t was, compactly ("45s", "12m", "3h", "2d").
func age(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return short(time.Since(t))
}

func short(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	default:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Local().Format(time.RFC3339) + " (" + age(t) + " ago)"
}

func itoa[T int | int64](n T) string {
	if n == 0 {
		return ""
	}
	return strconv.FormatInt(int64(n), 10)
}

func truncate(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// changed collects the flags the user set into a JSON body, keyed by the
// API's field names, so updates send only what the user means to change.
func changed(fs *pflag.FlagSet, keys map[string]string) (map[string]any, error) {
	body := map[string]any{}
	for flag, key := range keys {
		f := fs.Lookup(flag)
		if f == nil || !f.Changed {
			continue
		}
		var v any
		var err error
		switch f.Value.Type() {
		case "string":
			v, err = fs.GetString(flag)
		case "int":
			v, err = fs.GetInt(flag)
		case "int64":
			v, err = fs.GetInt64(flag)
		case "bool":
			v, err = fs.GetBool(flag)
		case "stringSlice":
			v, err = fs.GetStringSlice(flag)
		case "duration":
			var d time.Duration
			d, err = fs.GetDuration(flag)
			v = d.String()
		default:
			return nil, fmt.Errorf("internal: flag --%s has unhandled type %s", flag, f.Value.Type())
		}
		if err != nil {
			return nil, err
		}
		body[key] = v
	}
	return body, nil
}
