package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// parseInterspersed parses flags that may appear before, between or after
// positional arguments (`flowbox run conf.click -h c.count`). Positional
// arguments go to positional in order.
func parseInterspersed(fs *flag.FlagSet, args []string, positional func(string) error) error {
	for {
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return nil
		}
		if rest[0] == "--" {
			for _, a := range rest[1:] {
				if err := positional(a); err != nil {
					return err
				}
			}
			return nil
		}
		if err := positional(rest[0]); err != nil {
			return err
		}
		args = rest[1:]
	}
}

// flagError is an error the flag package has already printed, with the
// usage text.
type flagError struct{ error }

func (e flagError) Unwrap() error { return e.error }

// parseFlags is fs.Parse; its errors are marked as already reported.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return flagError{err}
	}
	return nil
}

// newFlagSet makes a FlagSet whose --help prints usage text plus flags.
func newFlagSet(name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintln(out, strings.TrimSpace(usage))
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprintln(out, "\noptions:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// exitUsage reports a usage error and returns exit status 2. Errors of
// the flag package were printed (with the usage) when parsing: they are
// not repeated.
func exitUsage(w io.Writer, err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var fe flagError
	if !errors.As(err, &fe) {
		fmt.Fprintln(w, "flowbox:", err)
	}
	return 2
}

var stderr io.Writer = os.Stderr
