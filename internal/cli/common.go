package cli

import (
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/spf13/cobra"
)

// call runs one API request for cmd and prints the answer with render.
func call[T any](g *globals, cmd *cobra.Command, method, path string, q url.Values, body any, render func(io.Writer, T)) error {
	c, err := g.client()
	if err != nil {
		return err
	}
	data, err := c.do(cmd.Context(), method, path, q, body)
	if err != nil {
		return err
	}
	var v T
	return g.emit(cmd, data, &v, func(w io.Writer) { render(w, v) })
}

// showCmd is `<noun> show REF`.
func showCmd[T any](g *globals, noun, path string, render func(io.Writer, T)) *cobra.Command {
	return &cobra.Command{
		Use:   "show NAME|ID",
		Short: "Show one " + noun,
		Args:  exactArgs(1, "the "+noun+"'s name or id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return call(g, cmd, http.MethodGet, path+"/"+ref(args[0]), nil, nil, render)
		},
	}
}

// listCmd is `<noun> list` for resources without filters.
func listCmd[T any](g *globals, noun, path string, render func(io.Writer, []T)) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List " + noun + "s",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return call(g, cmd, http.MethodGet, path, nil, nil, render)
		},
	}
}

// deleteCmd is `<noun> delete REF`.
func deleteCmd(g *globals, noun, path, long string) *cobra.Command {
	return &cobra.Command{
		Use:     "delete NAME|ID",
		Aliases: []string{"rm"},
		Short:   "Delete a " + noun,
		Long:    long,
		Args:    exactArgs(1, "the "+noun+"'s name or id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			if _, err := c.do(cmd.Context(), http.MethodDelete, path+"/"+ref(args[0]), nil, nil); err != nil {
				return err
			}
			if g.output == "json" {
				fmt.Fprintf(cmd.OutOrStdout(), "{\"deleted\": %q}\n", args[0])
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s deleted\n", noun, args[0])
			return nil
		},
	}
}

// exactArgs is cobra.ExactArgs with a message that says what is missing.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return fmt.Errorf("%s expects %s (got %d arguments); see %s --help", cmd.CommandPath(), what, len(args), cmd.CommandPath())
		}
		return nil
	}
}

// requireChanged refuses an update that would send nothing.
func requireChanged(cmd *cobra.Command, body map[string]any) error {
	if len(body) == 0 {
		return fmt.Errorf("nothing to change: give at least one flag (see %s --help)", cmd.CommandPath())
	}
	return nil
}
