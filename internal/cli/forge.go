package cli

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/paddock-ci/paddock/internal/core"
)

const forgesPath = "/api/v1/forges"

// secretsHelp explains why secrets never come as flag values.
const secretsHelp = `Secrets are read from an environment variable or a file, never from a flag
value: command lines are visible to every user of the machine (ps,
/proc/*/cmdline) and end up in shell history. The server stores them
encrypted and never shows them again (answers say "***").`

func newForgeCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "forge",
		Short: "Manage forge endpoints (github.com, GitHub Enterprise Server) and their credentials",
	}
	cmd.AddCommand(
		listCmd(g, "forge", forgesPath, renderForges),
		showCmd(g, "forge", forgesPath, renderForge),
		forgeWriteCmd(g, true),
		forgeWriteCmd(g, false),
		deleteCmd(g, "forge", forgesPath, "Delete a forge. Entities that use it must be deleted first."),
	)
	return cmd
}

var forgeKeys = map[string]string{"name": "name", "kind": "kind", "api-url": "api_url", "web-url": "web_url"}

func forgeWriteCmd(g *globals, create bool) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "update NAME|ID",
		Short: "Change a forge (only the flags given change)",
		Long: `Change a forge; only the flags given change. Giving a credential replaces
the whole credential.

` + secretsHelp,
		Args: exactArgs(1, "the forge's name or id"),
	}
	if create {
		cmd.Use, cmd.Short, cmd.Args = "create", "Add a forge endpoint", cobra.NoArgs
		cmd.Long = `Add a forge endpoint with a personal access token or a GitHub App.

  paddock forge create --name github --token-env GITHUB_TOKEN
  paddock forge create --name ghes --api-url https://ghes.example.com/api/v3/ \
      --app-id 123 --installation-id 456 --private-key-file app.pem

` + secretsHelp
	}
	fs := cmd.Flags()
	fs.String("name", "", "forge name (used in the webhook URL /webhooks/NAME)")
	fs.String("kind", "github", "forge kind (github)")
	fs.String("api-url", "", "API base URL (default https://api.github.com/)")
	fs.String("web-url", "", "web base URL (derived from --api-url when omitted)")
	fs.String("token-env", "", "environment variable holding a personal access token")
	fs.String("token-file", "", "file holding a personal access token")
	fs.Int64("app-id", 0, "GitHub App id")
	fs.Int64("installation-id", 0, "GitHub App installation id")
	fs.String("private-key-file", "", "GitHub App private key (PEM file)")
	fs.String("webhook-secret-env", "", "environment variable holding the webhook secret")
	fs.String("webhook-secret-file", "", "file holding the webhook secret")
	if create {
		_ = cmd.MarkFlagRequired("name")
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		body, err := changed(cmd.Flags(), forgeKeys)
		if err != nil {
			return err
		}
		if create {
			body["kind"], _ = cmd.Flags().GetString("kind")
		}
		if err := forgeSecrets(cmd, body, create); err != nil {
			return err
		}
		if create {
			return call(g, cmd, http.MethodPost, forgesPath, nil, body, renderForge)
		}
		if err := requireChanged(cmd, body); err != nil {
			return err
		}
		return call(g, cmd, http.MethodPatch, forgesPath+"/"+ref(args[0]), nil, body, renderForge)
	}
	return cmd
}

// forgeSecrets adds the credential and webhook secret from env vars or files.
func forgeSecrets(cmd *cobra.Command, body map[string]any, create bool) error {
	fs := cmd.Flags()
	token, err := secretFrom(cmd, "token-env", "token-file")
	if err != nil {
		return err
	}
	app := fs.Changed("app-id") || fs.Changed("installation-id") || fs.Changed("private-key-file")
	switch {
	case token != "" && app:
		return fmt.Errorf("give either a token (--token-env/--token-file) or GitHub App flags, not both")
	case token != "":
		body["credential"] = map[string]any{"kind": "pat", "token": token}
	case app:
		appID, _ := fs.GetInt64("app-id")
		inst, _ := fs.GetInt64("installation-id")
		keyFile, _ := fs.GetString("private-key-file")
		if appID == 0 || inst == 0 || keyFile == "" {
			return fmt.Errorf("--app-id, --installation-id and --private-key-file go together")
		}
		key, err := os.ReadFile(keyFile)
		if err != nil {
			return fmt.Errorf("--private-key-file: %w", err)
		}
		body["credential"] = map[string]any{"kind": "app", "app_id": appID, "installation_id": inst,
			"private_key_pem": string(key)}
	case create:
		return fmt.Errorf("a credential is required: --token-env VAR, --token-file PATH, or --app-id/--installation-id/--private-key-file")
	}
	secret, err := secretFrom(cmd, "webhook-secret-env", "webhook-secret-file")
	if err != nil {
		return err
	}
	if secret != "" {
		body["webhook_secret"] = secret
	}
	return nil
}

// secretFrom reads a secret named by an env-var flag or a file flag ("" if neither is set).
func secretFrom(cmd *cobra.Command, envFlag, fileFlag string) (string, error) {
	env, _ := cmd.Flags().GetString(envFlag)
	file, _ := cmd.Flags().GetString(fileFlag)
	switch {
	case env != "" && file != "":
		return "", fmt.Errorf("give --%s or --%s, not both", envFlag, fileFlag)
	case env != "":
		v := strings.TrimSpace(os.Getenv(env))
		if v == "" {
			return "", fmt.Errorf("--%s: environment variable %s is empty or unset", envFlag, env)
		}
		return v, nil
	case file != "":
		data, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("--%s: %w", fileFlag, err)
		}
		v := strings.TrimSpace(string(data))
		if v == "" {
			return "", fmt.Errorf("--%s: %s is empty", fileFlag, file)
		}
		return v, nil
	}
	return "", nil
}

func credentialSummary(c core.Credential) string {
	if c.Kind == core.CredentialApp {
		return fmt.Sprintf("app %d (installation %d)", c.AppID, c.InstallationID)
	}
	return string(c.Kind)
}

func renderForges(w io.Writer, fs []core.Forge) {
	row(w, "NAME", "KIND", "API URL", "CREDENTIAL", "WEBHOOK SECRET", "AGE")
	for _, f := range fs {
		secret := ""
		if f.WebhookSecret != "" {
			secret = "set"
		}
		row(w, f.Name, string(f.Kind), f.APIURL, credentialSummary(f.Credential), secret, age(f.CreatedAt))
	}
}

func renderForge(w io.Writer, f core.Forge) {
	secret := "not set"
	if f.WebhookSecret != "" {
		secret = "set"
	}
	fields(w, "Name", f.Name, "ID", f.ID, "Kind", string(f.Kind), "API URL", f.APIURL, "Web URL", f.WebURL,
		"Credential", credentialSummary(f.Credential), "Webhook secret", secret,
		"Created", stamp(f.CreatedAt), "Updated", stamp(f.UpdatedAt))
}
