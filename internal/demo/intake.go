package demo

import (
	"fmt"

	"github.com/paddock-ci/paddock/internal/config"
	"github.com/paddock-ci/paddock/internal/core"
)

// demoPollBudget is the demo's poll budget per hour. Jobs here last about a
// second, so the demo polls as fast as GitHub's own 5000-an-hour limit would
// allow rather than at the production default (1200), which leaves most of
// that limit to runner registration.
const demoPollBudget = 4500

// checkIntake validates --intake: webhook (default) or poll.
func checkIntake(o *Options) error {
	switch o.Intake {
	case "":
		o.Intake = string(core.IntakeWebhook)
	case string(core.IntakeWebhook), string(core.IntakePoll):
	case intakeScaleSet:
		return checkScaleSet(o)
	default:
		return fmt.Errorf("--intake %q: want webhook, poll or scaleset", o.Intake)
	}
	return nil
}

// webhookURL is where the simulator delivers webhooks: nowhere in poll mode,
// which stands for a manager no forge can reach.
func webhookURL(o Options, url string) string {
	if o.Intake == string(core.IntakePoll) || o.Intake == intakeScaleSet {
		return ""
	}
	return url
}

// applyIntake sets the demo entity's intake and, for polling, its budget.
func applyIntake(o Options, cfg *config.Config) {
	if o.Intake == intakeScaleSet {
		applyScaleSet(cfg)
		return
	}
	for i := range cfg.Entities {
		cfg.Entities[i].Intake = core.Intake(o.Intake)
	}
	if o.Intake == string(core.IntakePoll) {
		cfg.Controller.PollBudgetPerHour = demoPollBudget
	}
}
