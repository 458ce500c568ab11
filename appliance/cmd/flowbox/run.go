package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"syscall"
	"time"

	"flowbox/appliance/control"
	"flowbox/appliance/lang"
	"flowbox/appliance/runtime"
)

func init() {
	commands["run"] = command{"run a configuration (default: the embedded one)", runCmd}
	commands["check"] = command{"parse and validate a configuration without running it", checkCmd}
}

const runUsage = `
usage: flowbox run [-f FILE | -e EXPR] [-h ELEM.HANDLER]... [--threads N]
                   [-p PATH] [--control tcp:127.0.0.1:PORT] [--metrics ADDR]
                   [--hooks FILE] [VAR=VALUE]... [FILE]

Runs a Click configuration on the element runtime until every source with
STOP true has finished and the graph has drained, or until SIGINT/SIGTERM.
With no FILE, -f or -e it runs the embedded default configuration
(firmware/default.click): synthetic traffic through a firewall and NAT.

After the run, each -h handler is read and printed as Click does: one
handler prints its bare value; several print "ELEM.HANDLER:", the value and
a blank line. The element part may be a glob ('*.count') or a class name.
Elements inside compounds are named outer/inner. VAR=VALUE overrides a
define($VAR ...) of the configuration.

-p PATH serves a control socket (mode 0600; only the owner's uid and root
may connect) for 'flowbox shell -s PATH' and Click ControlSocket tools;
--control tcp:127.0.0.1:PORT serves the same protocols on a loopback TCP
port (any local user can connect to it). SIGHUP re-reads the
configuration FILE and swaps it in without losing packets (hot
reconfiguration; on an error the running graph is kept). --metrics ADDR
serves Prometheus metrics at http://ADDR/metrics.`

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
	sock     string
	ctrl     multiFlag
	metrics  string
	hooks    string
}

func runCmd(args []string) int {
	rf := runFlags{src: configSource{defines: map[string]string{}}}
	fs := newFlagSet("run", runUsage)
	fs.StringVar(&rf.src.file, "f", "", "read the configuration from `FILE` ('-' for stdin)")
	fs.Var(exprFlag{&rf.src}, "e", "use `EXPR` as the configuration")
	fs.Var(&rf.handlers, "h", "after the run, read and print `ELEM.HANDLER` (repeatable; globs allowed)")
	fs.IntVar(&rf.threads, "threads", 1, "number of worker threads `N`")
	fs.IntVar(&rf.threads, "j", 1, "same as --threads `N`")
	fs.BoolVar(&rf.pin, "pin", true, "pin worker threads to CPUs")
	fs.BoolVar(&rf.quit, "q", false, "build and initialize the configuration, print -h handlers, do not run")
	fs.DurationVar(&rf.monitor, "monitor", 0, "print live counters every `INTERVAL` (e.g. 1s) while running")
	fs.BoolVar(&rf.timeRun, "t", false, "print the run time on stderr")
	fs.StringVar(&rf.flatOut, "o", "", "write the flattened configuration to `FILE` ('-' for stdout) and exit")
	fs.StringVar(&rf.sock, "p", "", "serve the control socket (Click ControlSocket protocol + shell commands) at unix socket `PATH`")
	fs.Var(&rf.ctrl, "control", "also serve the control protocol on `tcp:127.0.0.1:PORT` (loopback only) or unix:PATH (repeatable)")
	fs.StringVar(&rf.hooks, "hooks", "", "load operator policy hooks from Lua `FILE` (on_config may veto this and every reloaded configuration)")
	fs.StringVar(&rf.metrics, "metrics", "", "serve Prometheus metrics at http://`ADDR`/metrics (e.g. 127.0.0.1:9100)")
	if err := parseInterspersed(fs, args, rf.src.addPositional); err != nil {
		return exitUsage(stderr, err)
	}
	if rf.threads < 1 {
		return exitUsage(stderr, fmt.Errorf("--threads %d: need at least 1 worker thread", rf.threads))
	}
	return rf.execute()
}

func (rf *runFlags) execute() int {
	g, err := rf.src.load()
	if err != nil {
		printErrors(err)
		return 1
	}
	approve, err := loadHooks(rf.hooks)
	if err != nil {
		fmt.Fprintln(os.Stderr, "flowbox:", err)
		return 1
	}
	bopts := runtime.BuildOptions{Threads: rf.threads, Approve: approve}
	r, err := runtime.Build(g, bopts)
	if err != nil {
		printErrors(err)
		return 1
	}
	if rf.flatOut != "" {
		return writeFlat(r, rf.flatOut)
	}
	if rf.quit {
		return printHandlers(r, rf.handlers, os.Stdout)
	}
	rn := runtime.NewRunner(r, bopts)
	srv := control.NewServer(control.Options{
		Runner:     rn,
		Load:       rf.loadFile,
		ConfigFile: rf.reloadableFile(),
		Threads:    rf.threads,
	})
	defer srv.Close()
	if rf.sock != "" {
		if err := srv.ListenUnix(rf.sock); err != nil {
			fmt.Fprintln(os.Stderr, "flowbox:", err)
			return 1
		}
		fmt.Fprintf(os.Stderr, "flowbox: control socket %s (connect with: flowbox shell -s %s)\n", rf.sock, rf.sock)
	}
	for _, c := range rf.ctrl {
		addr, err := srv.ListenControl(c)
		if err != nil {
			fmt.Fprintln(os.Stderr, "flowbox:", err)
			return 1
		}
		fmt.Fprintf(os.Stderr, "flowbox: control protocol on %s\n", addr)
	}
	if rf.metrics != "" {
		addr, stop, err := control.ServeMetrics(rf.metrics, rn)
		if err != nil {
			fmt.Fprintln(os.Stderr, "flowbox:", err)
			return 1
		}
		defer stop()
		fmt.Fprintf(os.Stderr, "flowbox: metrics at http://%s/metrics\n", addr)
	}
	start := time.Now()
	ctx, cancel := signalContext()
	defer cancel()
	stopHUP := reloadOnHUP(srv, rf.reloadableFile())
	defer stopHUP()
	if rf.monitor > 0 {
		go monitor(ctx, rn, rf.monitor, os.Stdout)
	}
	if err := rn.Run(ctx, runtime.RunOptions{Pin: rf.pin}); err != nil {
		fmt.Fprintln(os.Stderr, "flowbox:", err)
		return 1
	}
	srv.Close()
	if rf.timeRun {
		fmt.Fprintf(os.Stderr, "%.6f s\n", time.Since(start).Seconds())
	}
	return printHandlers(rn.Router(), rf.handlers, os.Stdout)
}

// reloadableFile is the configuration file SIGHUP and a bare 'config
// load' re-read ("" when the configuration came from -e, stdin or the
// embedded default).
func (rf *runFlags) reloadableFile() string {
	if rf.src.hasExpr || rf.src.file == "-" {
		return ""
	}
	return rf.src.file
}

// loadFile parses a configuration file for a reload, with the run's
// VAR=VALUE defines.
func (rf *runFlags) loadFile(file string) (*lang.Graph, error) {
	src := configSource{file: file, defines: rf.src.defines}
	return src.load()
}

// reloadOnHUP swaps in file again on each SIGHUP.
func reloadOnHUP(srv *control.Server, file string) func() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-ch:
			}
			if file == "" {
				fmt.Fprintln(os.Stderr, "flowbox: SIGHUP ignored: the configuration did not come from a file")
				continue
			}
			rep, err := srv.Reload(file)
			if err != nil {
				fmt.Fprintf(os.Stderr, "flowbox: SIGHUP reload of %s failed, running configuration unchanged:\n%v\n", file, err)
				continue
			}
			fmt.Fprintf(os.Stderr, "flowbox: reloaded %s: %d kept, %d added, %d removed\n", file, len(rep.Kept), len(rep.Added), len(rep.Removed))
		}
	}()
	return func() { signal.Stop(ch); close(done) }
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
func monitor(ctx context.Context, rn *runtime.Runner, every time.Duration, w io.Writer) {
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
		// The router changes on a reload: list its counters each time.
		r := rn.Router()
		var names []string
		for _, n := range r.Names() {
			if _, _, err := r.HandlerKind(n + ".count"); err == nil {
				names = append(names, n)
			}
		}
		if len(names) == 0 {
			continue
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
usage: flowbox check [-f FILE | -e EXPR] [VAR=VALUE]... FILE

Parses and validates a configuration without running it: syntax, element
classes and arguments, port counts, push/pull. Every error is printed as
FILE:LINE:COL: message (with the source line and a caret); the exit status
is 1 when there is any error.`

func checkCmd(args []string) int {
	src := configSource{defines: map[string]string{}}
	fs := newFlagSet("check", checkUsage)
	fs.StringVar(&src.file, "f", "", "read the configuration from `FILE`")
	fs.Var(exprFlag{&src}, "e", "check `EXPR` instead of a file")
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
		errs = append(errs, elementErrors(g, errs)...)
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

var undefinedVar = regexp.MustCompile(`^undefined variable '\$\{?([A-Za-z_][A-Za-z0-9_]*)`)

// elementErrors checks the arguments of the elements of a configuration
// that has syntax errors, leaving out elements whose arguments use a
// variable already reported as undefined: their errors ('LIMIT: expected
// integer, got "$N"') would only repeat that one.
func elementErrors(g *lang.Graph, errs lang.ErrorList) lang.ErrorList {
	var uses []*regexp.Regexp
	for _, e := range errs {
		if m := undefinedVar.FindStringSubmatch(e.Msg); m != nil {
			uses = append(uses, regexp.MustCompile(`\$\{?`+m[1]+`\b`))
		}
	}
	skip := map[lang.Pos]bool{}
	for _, el := range g.Elements {
		for _, re := range uses {
			if re.MatchString(el.Config) {
				skip[el.Pos] = true
				break
			}
		}
	}
	var out lang.ErrorList
	for _, e := range runtime.CheckElements(g) {
		if !skip[e.Pos] {
			out = append(out, e)
		}
	}
	return out
}
