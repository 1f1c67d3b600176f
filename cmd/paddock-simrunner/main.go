// Command paddock-simrunner is the forge simulator's runner as a small
// static program of its own: what `paddock agent` does, without the
// manager's dependencies, so the simulator's runner package can carry it
// into a microVM the way GitHub's package carries its runner.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/paddock-ci/paddock/internal/agent"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "paddock-simrunner:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	var err error
	if agent.IsGiteaInvocation(args) {
		err = agent.RunGitea(ctx, args, ".", os.Stdout)
	} else {
		var jit string
		if jit, err = agent.ParseArgs(args); err != nil {
			return err
		}
		err = agent.Run(ctx, jit, os.Stdout)
	}
	if errors.Is(err, agent.ErrRemoved) {
		return nil // removed while idle: a normal scale-down, not a failure
	}
	return err
}
