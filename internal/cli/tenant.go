package cli

import (
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/paddock-ci/paddock/internal/api"
	"github.com/paddock-ci/paddock/internal/check"
	"github.com/paddock-ci/paddock/internal/core"
)

const tenantsPath = "/api/v1/tenants"

func newTenantCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tenant",
		Short: "Manage tenants: groups of entities that share quotas and a weight in fair share",
	}
	cmd.AddCommand(
		listCmd(g, "tenant", tenantsPath, renderTenants),
		showCmd(g, "tenant", tenantsPath, renderTenant),
		tenantWriteCmd(g, true),
		tenantWriteCmd(g, false),
		deleteCmd(g, "tenant", tenantsPath, "Delete a tenant; its entities return to the default tenant. Pools that name it must drop it first."),
	)
	return cmd
}

var tenantKeys = map[string]string{"name": "name", "entities": "entities", "weight": "weight",
	"max-machines": "max_machines", "max-vcpu": "max_vcpu", "budget-minutes": "budget_minutes", "budget-mode": "budget_mode"}

func tenantWriteCmd(g *globals, create bool) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "update NAME|ID",
		Short: "Change a tenant (only the flags given change)",
		Long: `Change a tenant; only the flags given change. Raising a quota releases
waiting jobs at once.

  paddock tenant update libfoo --max-machines 8`,
		Args: exactArgs(1, "the tenant's name or id"),
	}
	if create {
		cmd.Use, cmd.Short, cmd.Args = "create", "Add a tenant", cobra.NoArgs
		cmd.Long = `Add a tenant: entities (on any forge) that share quotas and a weight.

  paddock tenant create --name libfoo --entities libfoo,libfoo/mirror --weight 2 --max-machines 4

Quotas left out mean no limit; a quota given must be at least 1. Entities no
tenant lists belong to the default tenant (see docs/sharing.md).`
	}
	fs := cmd.Flags()
	fs.String("name", "", "tenant name")
	fs.StringSlice("entities", nil, "entity names or ids, comma separated")
	fs.Int("weight", 1, "share of contended capacity relative to other tenants")
	fs.Int("max-machines", 0, "most machines at once")
	fs.Int("max-vcpu", 0, "most vCPU at once")
	fs.Int("budget-minutes", 0, "monthly machine-minutes budget (see docs/sharing.md, Budgets)")
	fs.String("budget-mode", "", "hard or soft")
	if create {
		_ = cmd.MarkFlagRequired("name")
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		fs := cmd.Flags()
		body, err := changed(fs, tenantKeys)
		if err != nil {
			return err
		}
		var t core.Tenant
		t.Name, _ = fs.GetString("name")
		t.Weight, _ = fs.GetInt("weight")
		t.MaxMachines, _ = fs.GetInt("max-machines")
		t.MaxVCPU, _ = fs.GetInt("max-vcpu")
		t.BudgetMinutes, _ = fs.GetInt("budget-minutes")
		mode, _ := fs.GetString("budget-mode")
		t.BudgetMode = core.BudgetMode(mode)
		given := func(field string) bool { return fs.Changed(strings.ReplaceAll(field, "_", "-")) }
		var lines []string
		for _, fe := range check.Tenant(t, given) {
			if flag := strings.ReplaceAll(fe.Field, "_", "-"); fs.Changed(flag) {
				lines = append(lines, "  --"+flag+": "+fe.Message)
			}
		}
		if len(lines) > 0 {
			return &APIError{Message: "invalid tenant settings (nothing was sent):\n" + strings.Join(lines, "\n"),
				Hint: "see `" + cmd.CommandPath() + " --help` for the accepted values"}
		}
		if create {
			return call(g, cmd, http.MethodPost, tenantsPath, nil, body, renderTenant)
		}
		if err := requireChanged(cmd, body); err != nil {
			return err
		}
		return call(g, cmd, http.MethodPatch, tenantsPath+"/"+ref(args[0]), nil, body, renderTenant)
	}
	return cmd
}

func limit(n int) string {
	if n == 0 {
		return "-"
	}
	return strconv.Itoa(n)
}

func renderTenants(w io.Writer, ts []api.TenantView) {
	row(w, "NAME", "WEIGHT", "MAX MACHINES", "MAX VCPU", "ENTITIES", "AGE")
	for _, t := range ts {
		row(w, t.Name, strconv.Itoa(t.Weight), limit(t.MaxMachines), limit(t.MaxVCPU), strings.Join(t.EntityNames, ","), age(t.CreatedAt))
	}
}

func renderTenant(w io.Writer, t api.TenantView) {
	budget := "none"
	if t.BudgetMinutes > 0 {
		budget = strconv.Itoa(t.BudgetMinutes) + " machine-minutes a month (" + string(t.BudgetMode) + ")"
	}
	fields(w, "Name", t.Name, "ID", t.ID, "Entities", strings.Join(t.EntityNames, ","), "Weight", strconv.Itoa(t.Weight),
		"Max machines", limit(t.MaxMachines), "Max vCPU", limit(t.MaxVCPU), "Budget", budget,
		"Created", stamp(t.CreatedAt), "Updated", stamp(t.UpdatedAt))
}
