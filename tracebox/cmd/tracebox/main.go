// Command tracebox is flowbox's tracebox (0.4.4 compatible). See
// tracebox/README.md or `tracebox -h`.
package main

import (
	"os"

	"flowbox/tracebox/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], cli.Env{}))
}
