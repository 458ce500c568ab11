package main

import (
	"fmt"
	"os"
	"strings"

	"flowbox/appliance/core"
)

func init() {
	commands["doc"] = command{"print an element class's documentation", docCmd}
	commands["classes"] = command{"list the element classes", classesCmd}
}

const docUsage = `
usage: flowbox doc CLASS...

Prints each class's documentation: synopsis, ports, processing, arguments,
handlers and an example.`

func docCmd(args []string) int {
	fs := newFlagSet("doc", docUsage)
	var classes []string
	if err := parseInterspersed(fs, args, func(a string) error { classes = append(classes, a); return nil }); err != nil {
		return exitUsage(stderr, err)
	}
	if len(classes) == 0 {
		fs.Usage()
		return 2
	}
	status := 0
	for i, name := range classes {
		c := core.Lookup(name)
		if c == nil {
			fmt.Fprintf(os.Stderr, "flowbox: no element class %q (see 'flowbox classes')\n", name)
			status = 1
			continue
		}
		if i > 0 {
			fmt.Println()
		}
		fmt.Print(formatDoc(c))
	}
	return status
}

// formatDoc is the text `flowbox doc` prints for a class.
func formatDoc(c *core.Class) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n", c.Name)
	b.WriteString(c.Doc.String())
	fmt.Fprintf(&b, "PORT COUNT\n    %s\n\nPROCESSING\n    %s\n", c.Ports, c.Processing)
	return b.String()
}

const classesUsage = `
usage: flowbox classes

Lists every element class with its one-line summary.`

func classesCmd(args []string) int {
	fs := newFlagSet("classes", classesUsage)
	if err := parseFlags(fs, args); err != nil {
		return exitUsage(stderr, err)
	}
	for _, n := range core.ClassNames() {
		fmt.Printf("%-20s %s\n", n, core.Lookup(n).Doc.Summary)
	}
	return 0
}
