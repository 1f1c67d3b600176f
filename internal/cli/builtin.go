package cli

import "github.com/spf13/cobra"

// builtinCommands are the commands that run Paddock's components (as opposed
// to the resource commands, which talk to a running manager's API).
func builtinCommands() []*cobra.Command {
	return []*cobra.Command{newServeCmd(), newDemoCmd(), newSimCmd(), newAgentCmd(), newMachineBootCmd(),
		newProviderExecCmd(), newImageCmd(), newQEMURelayCmd(),
		newMachineScratchCmd(), newBenchCmd(), newBenchManagerCmd()}
}
