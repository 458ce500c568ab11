package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"

	"flowbox/appliance/control"
	"flowbox/appliance/runtime"
)

func init() {
	commands["graph"] = command{"draw a configuration with Graphviz (DOT or SVG)", graphCmd}
}

const graphUsage = `
usage: flowbox graph [--svg OUT.svg] [--dot OUT.dot] [-f FILE | -e EXPR] [VAR=VALUE]... FILE

Builds the configuration (without initializing it: no devices or files are
opened) and draws its element graph: boxes are elements (name and class),
edges are labelled with their ports, pull connections are dashed. With no
option the Graphviz DOT text goes to stdout; --dot writes it to a file;
--svg renders it through Graphviz's 'dot' program, which must be
installed (apt-get install graphviz). For live rates on the edges of a
running appliance use 'show graph --dot' in flowbox shell.`

func graphCmd(args []string) int {
	src := configSource{defines: map[string]string{}}
	var svgOut, dotOut string
	fs := newFlagSet("graph", graphUsage)
	fs.StringVar(&src.file, "f", "", "read the configuration from `FILE`")
	fs.Var(exprFlag{&src}, "e", "draw `EXPR` instead of a file")
	fs.StringVar(&svgOut, "svg", "", "render to `OUT.svg` with Graphviz's dot")
	fs.StringVar(&dotOut, "dot", "", "write the DOT text to `OUT.dot` ('-' for stdout)")
	if err := parseInterspersed(fs, args, src.addPositional); err != nil {
		return exitUsage(stderr, err)
	}
	if src.file == "" && !src.hasExpr {
		fs.Usage()
		return 2
	}
	g, err := src.load()
	if err != nil {
		printErrors(err)
		return 1
	}
	r, err := runtime.Build(g, runtime.BuildOptions{SkipInitialize: true})
	if err != nil {
		printErrors(err)
		return 1
	}
	dot := control.Dot(r, nil, nil)
	if svgOut == "" && dotOut == "" {
		dotOut = "-"
	}
	switch {
	case dotOut == "-":
		fmt.Print(dot)
	case dotOut != "":
		if err := os.WriteFile(dotOut, []byte(dot), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "flowbox:", err)
			return 1
		}
	}
	if svgOut == "" {
		return 0
	}
	bin, err := exec.LookPath("dot")
	if err != nil {
		fmt.Fprintln(os.Stderr, "flowbox: Graphviz is not installed (no 'dot' in PATH): install it with 'apt-get install graphviz' (Debian/Ubuntu), 'dnf install graphviz' (Fedora) or 'brew install graphviz' (macOS), or use --dot FILE and render it elsewhere")
		return 1
	}
	cmd := exec.Command(bin, "-Tsvg", "-o", svgOut)
	cmd.Stdin = bytes.NewReader([]byte(dot))
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "flowbox: dot -Tsvg: %v\n%s", err, out)
		return 1
	}
	return 0
}
