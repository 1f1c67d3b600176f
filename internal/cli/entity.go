package cli

import (
	"io"
	"net/http"
	"strings"

	"github.com/spf13/cobra"

	"github.com/paddock-ci/paddock/internal/api"
	"github.com/paddock-ci/paddock/internal/check"
	"github.com/paddock-ci/paddock/internal/core"
)

const entitiesPath = "/api/v1/entities"

func newEntityCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "entity",
		Short: "Manage entities: the repositories, organizations and enterprises runners register with",
	}
	cmd.AddCommand(
		listCmd(g, "entity", entitiesPath, renderEntities),
		showCmd(g, "entity", entitiesPath, renderEntity),
		entityWriteCmd(g, true),
		entityWriteCmd(g, false),
		deleteCmd(g, "entity", entitiesPath, "Delete an entity. Pools that use it must be deleted first."),
	)
	return cmd
}

var entityKeys = map[string]string{"name": "name", "forge": "forge", "kind": "kind", "intake": "intake"}

func entityWriteCmd(g *globals, create bool) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "update NAME|ID",
		Short: "Change an entity (only the flags given change)",
		Args:  exactArgs(1, "the entity's name or id"),
	}
	if create {
		cmd.Use, cmd.Short, cmd.Args = "create", "Add an entity", cobra.NoArgs
		cmd.Long = `Add a repository (owner/repo), organization or enterprise on a forge.

  paddock entity create --forge github --name acme/app
  paddock entity create --forge github --name acme --intake poll

--kind defaults to repository for owner/repo and organization otherwise.
--intake webhook (default) takes jobs from webhooks with a slow reconcile
poll; poll is for managers that cannot receive webhooks.`
	}
	fs := cmd.Flags()
	fs.String("name", "", "owner/repo, organization or enterprise slug")
	fs.String("forge", "", "forge name or id")
	fs.String("kind", "", "repository, organization or enterprise")
	fs.String("intake", "", "how jobs arrive: webhook or poll")
	if create {
		_ = cmd.MarkFlagRequired("name")
		_ = cmd.MarkFlagRequired("forge")
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		fs := cmd.Flags()
		body, err := changed(fs, entityKeys)
		if err != nil {
			return err
		}
		// The server's rules for the flags given, before any request (the
		// forge's kind is the server's to know, so names get the rules
		// common to every forge here).
		var e core.Entity
		e.Name, _ = fs.GetString("name")
		kind, _ := fs.GetString("kind")
		intake, _ := fs.GetString("intake")
		e.Kind, e.Intake = core.EntityKind(kind), core.Intake(intake)
		check.EntityDefaults(&e)
		var lines []string
		for _, fe := range check.Entity(e, "") {
			if fs.Changed(fe.Field) {
				lines = append(lines, "  --"+fe.Field+": "+fe.Message)
			}
		}
		if len(lines) > 0 {
			return &APIError{Message: "invalid entity settings (nothing was sent):\n" + strings.Join(lines, "\n"),
				Hint: "see `" + cmd.CommandPath() + " --help` for the accepted values"}
		}
		if create {
			return call(g, cmd, http.MethodPost, entitiesPath, nil, body, renderEntity)
		}
		if err := requireChanged(cmd, body); err != nil {
			return err
		}
		return call(g, cmd, http.MethodPatch, entitiesPath+"/"+ref(args[0]), nil, body, renderEntity)
	}
	return cmd
}

func renderEntities(w io.Writer, es []api.EntityView) {
	row(w, "NAME", "KIND", "FORGE", "INTAKE", "AGE")
	for _, e := range es {
		row(w, e.Name, string(e.Kind), e.Forge, string(e.Intake), age(e.CreatedAt))
	}
}

func renderEntity(w io.Writer, e api.EntityView) {
	fields(w, "Name", e.Name, "ID", e.ID, "Kind", string(e.Kind), "Forge", e.Forge, "Intake", string(e.Intake),
		"Created", stamp(e.CreatedAt), "Updated", stamp(e.UpdatedAt))
}
