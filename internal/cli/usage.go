package cli

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/paddock-ci/paddock/internal/api"
	"github.com/paddock-ci/paddock/internal/usage"
)

func newUsageCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "usage",
		Short: "Machine time and cost per tenant, entity, pool or day, and the saving against hosted runners",
		Long: `Machine time (boot, wait, run; warm machines' idle time as overhead) and cost
of removed machines, priced by the config's prices table, and the saving
against the reference prices (default: GitHub-hosted runners).

  paddock usage                                  # per tenant, last 31 days
  paddock usage --group day --tenant libfoo --from 2026-11-01
  paddock usage --group pool -o csv > usage.csv

A row whose machines have no price says so in NOTE: its cost is incomplete,
not zero (add the flavor under prices.machines).`,
		Args: cobra.NoArgs,
	}
	fs := cmd.Flags()
	fs.String("group", "tenant", "group rows by tenant, entity, pool or day")
	fs.String("tenant", "", "only this tenant (name or id; default = the default tenant)")
	fs.String("entity", "", "only this entity (name or id)")
	fs.String("pool", "", "only this pool (name or id)")
	fs.String("from", "", "start: a date (2026-11-01) or RFC 3339 time; default 31 days before --to")
	fs.String("to", "", "end (exclusive); default now")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		q := url.Values{}
		for _, k := range []string{"group", "tenant", "entity", "pool", "from", "to"} {
			if v, _ := cmd.Flags().GetString(k); v != "" {
				q.Set(k, v)
			}
		}
		if g.output != "csv" {
			return call(g, cmd, http.MethodGet, "/api/v1/usage", q, nil, renderUsage)
		}
		c, err := g.client()
		if err != nil {
			return err
		}
		data, err := c.do(cmd.Context(), http.MethodGet, "/api/v1/usage", q, nil)
		if err != nil {
			return err
		}
		var rep api.UsageReport
		if err := json.Unmarshal(data, &rep); err != nil {
			return fmt.Errorf("unexpected answer from the server: %w", err)
		}
		return usageCSV(cmd.OutOrStdout(), rep)
	}
	return cmd
}

var usageHeader = []string{"GROUP", "MACHINES", "JOBS", "BOOT_MIN", "WAIT_MIN", "RUN_MIN", "OVERHEAD_MIN",
	"COST", "REFERENCE", "SAVING", "CURRENCY", "NOTE"}

func usageCells(r usage.Row) []string {
	m := func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }
	c := func(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) }
	return []string{r.Key, itoa(r.Machines), itoa(r.Jobs), m(r.BootMinutes), m(r.WaitMinutes), m(r.RunMinutes),
		m(r.OverheadMinute), c(r.Cost), c(r.ReferenceCost), c(r.Saving), r.Currency, r.Note}
}

func renderUsage(w io.Writer, rep api.UsageReport) {
	h := append([]string(nil), usageHeader...)
	h[0] = map[string]string{"tenant": "TENANT", "entity": "ENTITY", "pool": "POOL", "day": "DAY"}[rep.GroupBy]
	row(w, h...)
	for _, r := range rep.Rows {
		row(w, usageCells(r)...)
	}
}

func usageCSV(out io.Writer, rep api.UsageReport) error {
	w := csv.NewWriter(out)
	h := append([]string{rep.GroupBy}, usageHeader[1:]...)
	if err := w.Write(h); err != nil {
		return err
	}
	for _, r := range rep.Rows {
		// A cell starting with = + - @ is a formula to spreadsheets: names
		// come from the forge, so they are quoted out of that reading.
		cells := usageCells(r)
		for _, i := range []int{0, len(cells) - 1} {
			if s := cells[i]; s != "" && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@') {
				cells[i] = "'" + s
			}
		}
		if err := w.Write(cells); err != nil {
			return err
		}
	}
	w.Flush()
	return w.Error()
}
