package cli

import (
	"io"
	"net/http"
	"time"

	"github.com/spf13/cobra"
)

// replicaView is one row of GET /api/v1/replicas (internal/leader.Replica).
type replicaView struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	URL         string    `json:"url"`
	Version     string    `json:"version"`
	Role        string    `json:"role"`
	Epoch       int64     `json:"epoch"`
	StartedAt   time.Time `json:"started_at"`
	HeartbeatAt time.Time `json:"heartbeat_at"`
	Stale       bool      `json:"stale"`
}

func newStatusCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "List the manager's replicas, their roles and last heartbeats",
		Long: "List the `paddock serve` replicas sharing the PostgreSQL store: which one leads (runs the\n" +
			"controller loop) and in which epoch, and when each last sent a heartbeat. A replica silent for\n" +
			"three leases is marked stale. A manager on SQLite runs alone and has no replicas.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return call(g, cmd, http.MethodGet, "/api/v1/replicas", nil, nil, renderReplicas)
		},
	}
}

func renderReplicas(w io.Writer, rs []replicaView) {
	row(w, "NAME", "ROLE", "EPOCH", "HEARTBEAT", "UP", "URL", "VERSION")
	for _, r := range rs {
		role := r.Role
		if r.Stale {
			role += " (stale)"
		}
		row(w, r.Name, role, itoa(r.Epoch), age(r.HeartbeatAt)+" ago", age(r.StartedAt), r.URL, r.Version)
	}
}
