// Command paddock is the Paddock CLI and manager; all behaviour lives in internal/cli.
package main

import (
	"os"

	"github.com/paddock-ci/paddock/internal/cli"
)

func main() {
	os.Exit(cli.Execute())
}
