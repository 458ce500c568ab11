package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"flowbox/appliance/runtime"
)

func init() {
	commands["run"] = command{"run a configuration (default: the embedded one)", runCmd}
	commands["check"] = command{"parse and validate a configuration without running it", checkCmd}
}

const runUsage = `
usage: flowbox run [-f FILE | -e EXPR] [-h ELEM.HANDLER]... [--threads N] [VAR=VALUE]... [FILE]

Runs a Click configuration on the element runtime until every source with
STOP true has finished and the graph has drained, or until SIGINT/SIGTERM.
With no FILE, -f or -e it runs the embedded default configuration
(firmware/default.click): synthetic traffic through a firewall and NAT.

After the run, each -h handler is read and printed as Click does: one
handler prints its bare value; several print "ELEM.HANDLER:", the value and
a blank line. The element part may be a glob ('*.count') or a class name.
Elements inside compounds are named outer/inner. VAR=VALUE overrides a
define($VAR ...) of the configuration.`

// runFlags are the options of `flowbox run`.
type runFlags struct {
	src      configSource
	handlers multiFlag
	threads  int
	pin      bool
	quit     bool
	monitor  time.Duration
	timeRun  bool
	flatOut  string
}

func runCmd(args []string) int {
	rf := runFlags{src: configSource{defines: map[string]string{}}}
	fs := newFlagSet("run", runUsage)
	fs.StringVar(&rf.src.file, "f", "", "read the configuration from `FILE` ('-' for stdin)")
	fs.StringVar(&rf.src.expr, "e", "", "use `EXPR` as the configuration")
	fs.Var(&rf.handlers, "h", "after the run, read and print `ELEM.HANDLER` (repeatable; globs allowed)")
	fs.IntVar(&rf.threads, "threads", 1, "number of worker threads `N`")
	fs.IntVar(&rf.threads, "j", 1, "same as --threads")
	fs.BoolVar(&rf.pin, "pin", true, "pin worker threads to CPUs")
	fs.BoolVar(&rf.quit, "q", false, "build and initialize the configuration, print -h handlers, do not run")
	fs.DurationVar(&rf.monitor, "monitor", 0, "print live counters every `INTERVAL` (e.g. 1s) while running")
	fs.BoolVar(&rf.timeRun, "t", false, "print the run time on stderr")
	fs.StringVar(&rf.flatOut, "o", "", "write the flattened configuration to `FILE` ('-' for stdout) and exit")
	if err := parseInterspersed(fs, args, rf.src.addPositional); err != nil {
		return exitUsage(stderr, err)
	}
	return rf.execute()
}

func (rf *runFlags) execute() int {
	g, err := rf.src.load()
	if err != nil {
		printErrors(err)
		return 1
	}
	r, err := runtime.Build(g, runtime.BuildOptions{Threads: rf.threads})
	if err != nil {
		printErrors(err)
		return 1
	}
	if rf.flatOut != "" {
		return writeFlat(r, rf.flatOut)
	}
	if !rf.quit {
		start := time.Now()
		ctx, cancel := signalContext()
		defer cancel()
		if rf.monitor > 0 {
			go monitor(ctx, r, rf.monitor, os.Stdout)
		}
		if err := r.Run(ctx, runtime.RunOptions{Pin: rf.pin}); err != nil {
			fmt.Fprintln(os.Stderr, "flowbox:", err)
			return 1
		}
		if rf.timeRun {
			fmt.Fprintf(os.Stderr, "%.6f s\n", time.Since(start).Seconds())
		}
	}
	return printHandlers(r, rf.handlers, os.Stdout)
}

// signalContext is cancelled by the first SIGINT/SIGTERM; a second one
// exits at once.
func signalContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ch
		cancel()
		<-ch
		fmt.Fprintln(os.Stderr, "flowbox: second signal, exiting now")
		os.Exit(130)
	}()
	return ctx, func() { signal.Stop(ch); cancel() }
}

// printHandlers prints -h handlers in Click's format.
func printHandlers(r *runtime.Router, patterns []string, w io.Writer) int {
	var specs []string
	status := 0
	for _, p := range patterns {
		s, err := r.ExpandHandlers(p)
		if err != nil {
			fmt.Fprintln(os.Stderr, "flowbox:", err)
			status = 1
			continue
		}
		specs = append(specs, s...)
	}
	for _, spec := range specs {
		v, err := r.Read(spec, "")
		if err != nil {
			fmt.Fprintf(os.Stderr, "flowbox: %s: %v\n", spec, err)
			status = 1
			continue
		}
		if len(specs) == 1 && len(patterns) == 1 {
			fmt.Fprint(w, withNewline(v))
			continue
		}
		fmt.Fprintf(w, "%s:\n%s\n", spec, withNewline(v))
	}
	return status
}

func withNewline(s string) string {
	if s == "" || strings.HasSuffix(s, "\n") {
		return s
	}
	return s + "\n"
}

func writeFlat(r *runtime.Router, file string) int {
	text, err := r.Read("flatconfig", "")
	if err != nil {
		fmt.Fprintln(os.Stderr, "flowbox:", err)
		return 1
	}
	if file == "-" {
		fmt.Print(text)
		return 0
	}
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "flowbox:", err)
		return 1
	}
	return 0
}

// monitor prints, every interval, the count and rate of every element
// that has a `count` handler (Counters, sources, Discard, ...).
func monitor(ctx context.Context, r *runtime.Router, every time.Duration, w io.Writer) {
	var names []string
	for _, n := range r.Names() {
		if _, _, err := r.HandlerKind(n + ".count"); err == nil {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	start := time.Now()
	prev := map[string]uint64{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%6.1fs", time.Since(start).Seconds())
		for _, n := range names {
			v, err := r.Read(n+".count", "")
			if err != nil {
				continue
			}
			var c uint64
			fmt.Sscan(v, &c)
			rate := float64(c-prev[n]) / every.Seconds()
			prev[n] = c
			fmt.Fprintf(&b, "  %s %d (%.0f/s)", n, c, rate)
		}
		fmt.Fprintln(w, b.String())
	}
}

const checkUsage = `
usage: flowbox check [VAR=VALUE]... FILE

Parses and validates a configuration without running it: syntax, element
classes and arguments, port counts, push/pull. Every error is printed as
FILE:LINE:COL: message (with the source line and a caret); the exit status
is 1 when there is any error.`

func checkCmd(args []string) int {
	src := configSource{defines: map[string]string{}}
	fs := newFlagSet("check", checkUsage)
	fs.StringVar(&src.file, "f", "", "read the configuration from `FILE`")
	fs.StringVar(&src.expr, "e", "", "check `EXPR` instead of a file")
	if err := parseInterspersed(fs, args, src.addPositional); err != nil {
		return exitUsage(stderr, err)
	}
	g, errs, err := src.loadAll()
	if err != nil {
		printErrors(err)
		return 1
	}
	if len(errs) > 0 {
		// Syntax errors: add the argument errors of the elements that did
		// parse, so every error is reported in one run.
		errs = append(errs, runtime.CheckElements(g)...)
		errs.Sort()
		printErrors(errs)
		return 1
	}
	if _, err := runtime.Build(g, runtime.BuildOptions{SkipInitialize: true}); err != nil {
		printErrors(err)
		return 1
	}
	return 0
}
