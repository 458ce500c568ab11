// Command flowbox is the appliance: it runs Click configurations on the
// element runtime, checks them, documents elements, and hosts the shell.
package main

import (
	"fmt"
	"os"
	"sort"
	"strings"

	_ "flowbox/elements/all"
)

// command is one `flowbox SUBCOMMAND`.
type command struct {
	summary string
	run     func(args []string) int
}

// commands is filled by each command's file in its init().
var commands = map[string]command{}

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	name := os.Args[1]
	switch name {
	case "-h", "--help", "help":
		if len(os.Args) > 2 {
			if c, ok := commands[os.Args[2]]; ok {
				os.Exit(c.run([]string{"--help"}))
			}
		}
		usage()
		return
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "flowbox: unknown command %q (try 'flowbox --help')\n", name)
		os.Exit(2)
	}
	os.Exit(c.run(os.Args[2:]))
}

func usage() {
	var b strings.Builder
	b.WriteString("usage: flowbox COMMAND [ARGS]\n\ncommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, "  %-9s %s\n", n, commands[n].summary)
	}
	b.WriteString("\n'flowbox COMMAND --help' describes a command's options.\n")
	fmt.Fprint(os.Stderr, b.String())
}
