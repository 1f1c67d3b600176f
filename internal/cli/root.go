// Package cli is Paddock's command line: resource commands that talk to a
// running manager's REST API, plus the commands that run components.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

const defaultServer = "http://127.0.0.1:8080"

// globals are the persistent flags every resource command shares.
type globals struct {
	server string
	token  string
	output string
}

// NewRoot builds the paddock command tree. extra adds commands defined
// elsewhere (serve, demo, …) so this file stays about the API client side.
func NewRoot(extra ...*cobra.Command) *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "paddock",
		Short: "Self-hosted CI runner manager",
		Long: `Paddock manages ephemeral CI runners: one fresh machine per job.

Resource commands (forge, entity, pool, instance, job) talk to a running
manager over its REST API; point them at it with --server or PADDOCK_URL and
authenticate with --token or PADDOCK_ADMIN_TOKEN.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return g.resolve(cmd)
		},
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.server, "server", defaultServer, "Paddock server URL (env PADDOCK_URL)")
	pf.StringVar(&g.token, "token", "", "admin API token (env PADDOCK_ADMIN_TOKEN; prefer the env var, flags show up in ps)")
	pf.StringVarP(&g.output, "output", "o", "table", "output format: table or json")
	root.AddCommand(newForgeCmd(g), newEntityCmd(g), newPoolCmd(g), newInstanceCmd(g), newJobCmd(g), newEventsCmd(g))
	root.AddCommand(newStatusCmd(g))
	root.AddCommand(newTenantCmd(g))
	root.AddCommand(newUsageCmd(g))
	root.AddCommand(extra...)
	return root
}

// resolve fills unset flags from the environment and checks --output.
func (g *globals) resolve(cmd *cobra.Command) error {
	fs := cmd.Flags()
	if v := os.Getenv("PADDOCK_URL"); v != "" && !fs.Changed("server") {
		g.server = v
	}
	if v := os.Getenv("PADDOCK_ADMIN_TOKEN"); v != "" && !fs.Changed("token") {
		g.token = v
	}
	if g.output == "csv" && cmd.Name() == "usage" {
		return nil // usage rows go to spreadsheets
	}
	if g.output != "table" && g.output != "json" {
		return fmt.Errorf("--output %q is not supported; use table or json (csv: paddock usage only)", g.output)
	}
	return nil
}

// Execute runs paddock with the process arguments and returns the exit code.
func Execute() int {
	return run(NewRoot(builtinCommands()...), os.Args[1:], os.Stdout, os.Stderr)
}

func run(root *cobra.Command, args []string, stdout, stderr io.Writer) int {
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "error:", sanitize(err.Error(), "\n\t"))
	var ae *APIError
	if errors.As(err, &ae) && ae.Hint != "" {
		fmt.Fprintln(stderr, sanitize(ae.Hint, "\n\t"))
	}
	return 1
}
