package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"flowbox/appliance/core"
	"flowbox/appliance/lang"
	"flowbox/firmware"
)

// configSource says where a configuration comes from.
type configSource struct {
	file    string            // -f FILE or positional FILE; "-" is stdin
	expr    string            // -e EXPR
	hasExpr bool              // -e was given (-e '' is an empty configuration)
	defines map[string]string // VAR=VALUE arguments
}

// exprFlag is the -e flag: it records that -e was given, even empty.
type exprFlag struct{ c *configSource }

func (e exprFlag) String() string {
	if e.c == nil {
		return ""
	}
	return e.c.expr
}

func (e exprFlag) Set(v string) error {
	e.c.expr, e.c.hasExpr = v, true
	return nil
}

var varAssign = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)

// addPositional takes a positional argument: VAR=VALUE or the file name.
func (c *configSource) addPositional(arg string) error {
	if varAssign.MatchString(arg) {
		k, v, _ := strings.Cut(arg, "=")
		c.defines[k] = v
		return nil
	}
	if c.file != "" {
		return fmt.Errorf("more than one configuration file given (%q and %q)", c.file, arg)
	}
	c.file = arg
	return nil
}

// load reads and parses the configuration; with neither file nor
// expression it uses the embedded default (firmware/default.click).
func (c *configSource) load() (*lang.Graph, error) {
	g, errs, err := c.loadAll()
	if err != nil {
		return nil, err
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return g, nil
}

// loadAll is load that keeps the partial graph when there are syntax
// errors (err is for reading failures only).
func (c *configSource) loadAll() (*lang.Graph, lang.ErrorList, error) {
	name, src, err := c.read()
	if err != nil {
		return nil, nil, err
	}
	g, errs := lang.ParseAll(name, src, c.options(name))
	return g, errs, nil
}

func (c *configSource) options(name string) lang.Options {
	dir := filepath.Dir(name)
	return lang.Options{
		Defines:    c.defines,
		IsClass:    func(n string) bool { return core.Lookup(n) != nil },
		ClassNames: core.ClassNames,
		ReadFile: func(f string) ([]byte, error) {
			if !filepath.IsAbs(f) {
				f = filepath.Join(dir, f)
			}
			return os.ReadFile(f)
		},
	}
}

func (c *configSource) read() (string, []byte, error) {
	switch {
	case c.hasExpr && c.file != "":
		return "", nil, fmt.Errorf("give either -e EXPR or a file, not both")
	case c.hasExpr:
		return "<expr>", []byte(c.expr), nil
	case c.file == "-":
		b, err := io.ReadAll(os.Stdin)
		return "<stdin>", b, err
	case c.file != "":
		b, err := os.ReadFile(c.file)
		if err != nil {
			return "", nil, fmt.Errorf("cannot read configuration: %v", err)
		}
		return c.file, b, nil
	}
	return firmware.DefaultConfigName, firmware.DefaultConfig, nil
}

// printErrors prints a build or parse error; lists print one per error
// (each names FILE:LINE:COL), other errors (an unreadable file, a policy
// veto) get the command's prefix.
func printErrors(err error) {
	var list lang.ErrorList
	if errors.As(err, &list) {
		fmt.Fprintln(os.Stderr, err.Error())
		return
	}
	fmt.Fprintln(os.Stderr, "flowbox:", err)
}
