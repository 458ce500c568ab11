package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	toml "github.com/pelletier/go-toml/v2"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"flowbox/appliance/boot"
	"flowbox/appliance/control"
	"flowbox/appliance/lang"
	"flowbox/appliance/runtime"
	"flowbox/lua"
	"flowbox/tracebox/cli"
)

func init() {
	commands["boot"] = command{"start the appliance from its boot file (default " + boot.DefaultPath + ")", bootCmd}
	control.Register(control.Command{Name: "show boot", Summary: "boot state: profile, boot file or last-known-good, degraded and why",
		Run: func(*control.Call) (string, error) { return boot.CurrentStatus().String(), nil }})
}

const bootUsage = `
usage: flowbox boot [-c FILE] [--check [--offline] [--save-lkg]] [-p PATH] [--metrics ADDR]
                    [--lkg-dir DIR] [--log-file FILE] [--promote-after D]

Starts the appliance from its boot file: sets the interfaces up through
netlink, runs the Click configuration(s) with their defines, opens the
control socket (flowbox shell), metrics and Lua hooks, runs scheduled
probes, and prints one line when up:

  flowbox: ready: profile=NAME elements=N interfaces=eth0,eth1

SIGHUP re-reads the boot file and swaps the graph in without losing
packets (a bad file keeps the running graph). SIGTERM or SIGINT stops the
graph, detaches XDP programs and puts interfaces back as found (restore =
true, the default).

A configuration that has run for [lkg] promote_after (30s) becomes the
last-known-good set. If the boot file or a file it names fails at boot,
flowbox prints why, runs the last-known-good set and marks itself
degraded ('show boot' in the shell, flowbox_degraded in metrics); with no
last-known-good it comes up with the control socket only, so the box
stays reachable. Exit status: 0 after a clean stop, 1 for --check errors.`

type bootFlags struct {
	file, socket, metrics, lkgDir, logFile string
	check, offline, saveLKG                bool
	promote                                time.Duration
}

func bootCmd(args []string) int {
	var f bootFlags
	fs := newFlagSet("boot", bootUsage)
	fs.StringVar(&f.file, "c", boot.DefaultPath, "boot `FILE`")
	fs.BoolVar(&f.check, "check", false, "validate the boot file, its Click configurations, define files, Lua hooks and probe scripts; change nothing")
	fs.BoolVar(&f.offline, "offline", false, "with --check: do not build the graph (for checking on another machine: devices named in the configuration need not exist)")
	fs.BoolVar(&f.saveLKG, "save-lkg", false, "with --check: store the checked set as last-known-good")
	fs.StringVar(&f.socket, "p", "", "control socket `PATH` (overrides [control] socket)")
	fs.StringVar(&f.metrics, "metrics", "", "serve Prometheus metrics on `ADDR` (overrides [control] metrics)")
	fs.StringVar(&f.lkgDir, "lkg-dir", "", "last-known-good store `DIR` (overrides [lkg] dir; default "+boot.DefaultLKGDir+")")
	fs.StringVar(&f.logFile, "log-file", "", "append the log to `FILE` (overrides [log] file; '-' = console only)")
	fs.DurationVar(&f.promote, "promote-after", 0, "a configuration becomes last-known-good after running for `D` (overrides [lkg] promote_after)")
	if err := parseFlags(fs, args); err != nil {
		return exitUsage(stderr, err)
	}
	if fs.NArg() > 0 {
		return exitUsage(stderr, fmt.Errorf("unexpected argument %q (the boot file is given with -c)", fs.Arg(0)))
	}
	if f.check {
		return bootCheck(f)
	}
	if f.saveLKG || f.offline {
		return exitUsage(stderr, errors.New("--save-lkg and --offline go with --check"))
	}
	return newBox(f).run()
}

// bootCheck validates everything and changes nothing (unless --save-lkg).
func bootCheck(f bootFlags) int {
	lo := boot.LoadOptions{LinkMAC: boot.LinkMAC, SkipBuild: f.offline}
	if f.offline {
		lo.LinkMAC = nil
	}
	set, err := boot.Load(f.file, lo)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for _, w := range set.Warnings {
		fmt.Fprintln(os.Stderr, "warning:", w)
	}
	if !f.offline {
		for _, n := range boot.Missing(set.Config) {
			fmt.Fprintf(os.Stderr, "warning: interface %s does not exist on this machine\n", n)
		}
	}
	var ifs []string
	for _, in := range set.Config.Interfaces {
		ifs = append(ifs, in.Name)
	}
	fmt.Printf("%s: ok: profile=%s elements=%d interfaces=%s files=%d\n", f.file, set.Profile(), len(set.Graph.Elements), strings.Join(ifs, ","), len(set.Files))
	if f.saveLKG {
		dir := firstNonEmpty(f.lkgDir, set.Config.LKGDir())
		if _, err := boot.SaveLKG(dir, set); err != nil {
			fmt.Fprintln(os.Stderr, "flowbox: saving last-known-good:", err)
			return 1
		}
		fmt.Printf("saved as last-known-good in %s\n", dir)
	}
	return 0
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// logger writes to the console and, when configured, a log file.
type logger struct {
	mu    sync.Mutex
	level boot.Level
	con   io.Writer
	file  *os.File
}

func (l *logger) logf(lv boot.Level, format string, args ...any) {
	if lv < l.level {
		return
	}
	msg := fmt.Sprintf(format, args...)
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range strings.Split(strings.TrimRight(msg, "\n"), "\n") {
		fmt.Fprintf(l.con, "flowbox: %s\n", line)
		if l.file != nil {
			fmt.Fprintf(l.file, "%s flowbox: %s\n", time.Now().UTC().Format(time.RFC3339), line)
		}
	}
}

func (l *logger) Infof(f string, a ...any)  { l.logf(boot.LevelInfo, f, a...) }
func (l *logger) Warnf(f string, a ...any)  { l.logf(boot.LevelWarn, f, a...) }
func (l *logger) Errorf(f string, a ...any) { l.logf(boot.LevelError, f, a...) }

// setConfig applies [log] (the --log-file flag wins).
func (l *logger) setConfig(c boot.Log, override string) {
	if override == "-" {
		c.File = ""
	} else if override != "" {
		c.File = override
	}
	lv, _ := boot.ParseLevel(c.Level)
	l.mu.Lock()
	l.level = lv
	old := l.file
	l.file = nil
	l.mu.Unlock()
	if old != nil {
		old.Close()
	}
	if c.File == "" {
		return
	}
	os.MkdirAll(filepath.Dir(c.File), 0o755)
	fh, err := os.OpenFile(c.File, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		l.Warnf("log file %s: %v (logging to the console only)", c.File, err)
		return
	}
	l.mu.Lock()
	l.file = fh
	l.mu.Unlock()
}

// box is the running appliance.
type box struct {
	f   bootFlags
	log *logger

	mu      sync.Mutex
	set     *boot.Set // running set (nil in rescue)
	pending *boot.Set // loaded by the reload path, not yet swapped in
	ifs     *boot.Interfaces
	hooks   []*lua.Hooks
	runner  *runtime.Runner
	srv     *control.Server
	probeC  context.CancelFunc
	gen     int // bumped at every set change (promotion timers check it)
	source  boot.Source
	reason  string
	hup     bool // a SIGHUP reload is in progress (it logs for itself)
}

func newBox(f bootFlags) *box {
	return &box{f: f, log: &logger{level: boot.LevelInfo, con: os.Stderr}}
}

func (b *box) loadOpts() boot.LoadOptions { return boot.LoadOptions{LinkMAC: boot.LinkMAC} }

// lenient reads what it can of a boot file that fails strict decoding,
// so that a typo elsewhere does not lose the control socket path or the
// last-known-good directory.
func lenient(file string) boot.Config {
	var c boot.Config
	if b, err := os.ReadFile(file); err == nil {
		_ = toml.Unmarshal(b, &c)
	}
	return c
}

func (b *box) lkgDir(cfg *boot.Config) string {
	if b.f.lkgDir != "" {
		return b.f.lkgDir
	}
	return cfg.LKGDir()
}

// firstLine is the first message of a (multi-line) error: when that line
// only announces what follows ("...router.click has errors:"), the first
// of the following messages (not the source line and caret under it) is
// added, so that 'show boot' says why.
func firstLine(err error) string {
	lines := strings.Split(strings.TrimSpace(err.Error()), "\n")
	s := strings.TrimSpace(lines[0])
	if strings.HasSuffix(s, ":") {
		for _, l := range lines[1:] {
			if strings.TrimSpace(l) != "" && l[0] != ' ' && l[0] != '\t' {
				return s + " " + strings.TrimSpace(l)
			}
		}
	}
	return strings.TrimSuffix(s, ":")
}

func (b *box) run() int {
	b.log.Infof("booting from %s", b.f.file)
	fallback := lenient(b.f.file)
	b.log.setConfig(fallback.Log, b.f.logFile)

	// 1. The boot file, else the last-known-good set, else rescue.
	var runner *runtime.Runner
	set, err := boot.Load(b.f.file, b.loadOpts())
	if err != nil {
		b.reason = "boot file failed: " + firstLine(err)
		b.log.Errorf("boot file %s failed to load:\n%v", b.f.file, err)
	} else {
		b.log.setConfig(set.Config.Log, b.f.logFile)
		if runner, err = b.start(set); err != nil {
			b.reason = "boot configuration failed to start: " + firstLine(err)
			b.log.Errorf("configuration from %s failed to start:\n%v", b.f.file, err)
			set = nil
		} else {
			b.source = boot.SourceBootFile
		}
	}
	if set == nil {
		dir := b.lkgDir(&fallback)
		lkg, lerr := boot.LoadLKG(dir, b.loadOpts())
		switch {
		case errors.Is(lerr, boot.ErrNoLKG):
			b.log.Errorf("no last-known-good configuration in %s", dir)
		case lerr != nil:
			b.log.Errorf("last-known-good configuration unusable: %v", lerr)
		default:
			b.log.Warnf("running the last-known-good configuration saved %s (profile %s) instead", lkg.LKG.Saved.Format(time.RFC3339), lkg.Profile())
			if runner, err = b.start(lkg); err != nil {
				b.log.Errorf("last-known-good configuration failed to start:\n%v", err)
			} else {
				set, b.source = lkg, boot.SourceLKG
			}
		}
	}
	if set == nil {
		b.source = boot.SourceRescue
		b.log.Errorf("DEGRADED: coming up with the control socket and shell only; fix %s and send SIGHUP (or 'config load' in flowbox shell)", b.f.file)
		r, err := runtime.Build(&lang.Graph{Sources: map[string][]byte{}}, runtime.BuildOptions{})
		if err != nil {
			b.log.Errorf("internal error: %v", err)
			return 1
		}
		runner = runtime.NewRunner(r, runtime.BuildOptions{Log: b.elemLog})
	} else if b.source == boot.SourceLKG {
		b.log.Errorf("DEGRADED: %s", b.reason)
	}
	b.set, b.runner = set, runner

	// 2. Control socket, metrics, hooks, probes.
	cfg := fallback
	if set != nil {
		cfg = *set.Config
	}
	b.srv = control.NewServer(control.Options{
		Runner: runner, Load: b.reloadLoad, ConfigFile: b.f.file, Threads: max(cfg.Graph.Threads, 1),
		Log: func(s string) { b.log.Infof("%s", s) }, Reloaded: b.reloaded,
	})
	sock := firstNonEmpty(b.f.socket, cfg.SocketPath())
	if err := b.listen(sock); err != nil {
		b.log.Errorf("%v", err)
		if sock != boot.DefaultSocket {
			b.log.Warnf("trying the default control socket %s", boot.DefaultSocket)
			if err := b.listen(boot.DefaultSocket); err != nil {
				b.log.Errorf("%v", err)
			} else {
				sock = boot.DefaultSocket
			}
		}
	}
	b.startMetrics(firstNonEmpty(b.f.metrics, cfg.Control.Metrics))
	if set != nil {
		b.startExtras(set)
	}
	b.publish()

	// 3. Run until SIGTERM/SIGINT; SIGHUP reloads.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, os.Interrupt)
	defer signal.Stop(sigs)
	done := make(chan error, 1)
	pin := set == nil || set.Config.Graph.PinWorkers()
	var cpus []int
	if set != nil && len(set.Config.Graph.CPUs) > 0 {
		// Workers are pinned one per listed CPU (worker i on cpus[i mod n]);
		// the rest of the process is confined to the same CPUs.
		cpus, pin = set.Config.Graph.CPUs, true
		if err := confineCPUs(cpus); err != nil {
			b.log.Warnf("graph.cpus: %v", err)
		}
	}
	go func() { done <- runner.Run(ctx, runtime.RunOptions{Pin: pin, CPUs: cpus}) }()
	b.ready(sock)
	b.schedulePromotion()
	for {
		select {
		case s := <-sigs:
			if s == syscall.SIGHUP {
				b.reload()
				continue
			}
			b.log.Infof("%v: stopping", s)
			cancel()
			<-done
			b.shutdown()
			return 0
		case err := <-done:
			if err != nil {
				b.log.Errorf("graph stopped: %v", err)
			} else {
				b.log.Infof("graph finished")
			}
			b.shutdown()
			if err != nil {
				return 1
			}
			return 0
		}
	}
}

func (b *box) listen(sock string) error {
	if err := os.MkdirAll(filepath.Dir(sock), 0o755); err != nil {
		return fmt.Errorf("control socket %s: %v", sock, err)
	}
	return b.srv.ListenUnix(sock)
}

func (b *box) elemLog(s string) { b.log.Infof("%s", s) }

// start sets the interfaces up and builds (initializes) the graph. On
// error everything it did is undone.
func (b *box) start(set *boot.Set) (*runtime.Runner, error) {
	for _, w := range set.Warnings {
		b.log.Warnf("%s", w)
	}
	ifs, err := boot.ApplyInterfaces(set.Config, func(s string) { b.log.Infof("%s", s) })
	if err != nil {
		return nil, err
	}
	opt := runtime.BuildOptions{Threads: max(set.Config.Graph.Threads, 1), Log: b.elemLog}
	r, err := runtime.Build(set.Graph, opt)
	if err != nil {
		ifs.Restore()
		return nil, err
	}
	b.ifs = ifs
	return runtime.NewRunner(r, opt), nil
}

// startExtras loads the Lua hooks and starts the probes of set.
func (b *box) startExtras(set *boot.Set) {
	var hooks []*lua.Hooks
	for _, p := range set.HookFiles {
		h, err := lua.LoadHooks(set.Path(p), lua.HookOptions{Budget: set.Config.Hooks.Budget.Duration,
			Log: func(level, msg string) { b.log.Infof("lua %s: %s: %s", filepath.Base(p), level, msg) }})
		if err != nil {
			b.log.Errorf("Lua hooks: %v", err) // err names the file
			continue
		}
		hooks = append(hooks, h)
	}
	b.mu.Lock()
	old := b.hooks
	b.hooks = hooks
	if b.probeC != nil {
		b.probeC()
		b.probeC = nil
	}
	if len(set.Config.Probes) > 0 {
		ctx, cancel := context.WithCancel(context.Background())
		b.probeC = cancel
		for i, p := range set.Config.Probes {
			go b.probeLoop(ctx, set, i, p)
		}
	}
	b.mu.Unlock()
	if len(hooks) > 0 {
		lua.SetActiveHooks(hooks[0])
	} else {
		lua.SetActiveHooks(nil)
	}
	for _, h := range old {
		h.Close()
	}
}

func (b *box) interfaces() []string {
	if b.ifs == nil {
		return nil
	}
	return b.ifs.Names()
}

// publish updates the status the shell and metrics show.
func (b *box) publish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := boot.Status{BootFile: b.f.file, Source: b.source, Since: time.Now(), Interfaces: b.interfaces(),
		Degraded: b.source != boot.SourceBootFile, Reason: b.reason, Profile: "none"}
	if !st.Degraded {
		st.Reason = ""
	}
	if b.runner != nil {
		st.Elements = len(b.runner.Router().Nodes)
	}
	cfg := lenient(b.f.file)
	if b.set != nil {
		st.Profile = b.set.Profile()
		cfg = *b.set.Config
	}
	st.LKGDir = b.lkgDir(&cfg)
	if m, err := boot.ReadManifest(st.LKGDir); err == nil {
		st.LKGSaved = m.Saved
	}
	boot.SetStatus(st)
}

func (b *box) ready(sock string) {
	st := boot.CurrentStatus()
	line := fmt.Sprintf("ready: profile=%s elements=%d interfaces=%s", st.Profile, st.Elements, strings.Join(st.Interfaces, ","))
	if st.Degraded {
		line += fmt.Sprintf(" degraded=true source=%s", st.Source)
	}
	b.log.Infof("%s", line)
	b.log.Infof("control socket %s (flowbox shell -s %s)", sock, sock)
}

// schedulePromotion saves the running set as last-known-good once it has
// run for promote_after, if it came from the boot file.
func (b *box) schedulePromotion() {
	b.mu.Lock()
	set, gen := b.set, b.gen
	b.mu.Unlock()
	if set == nil || b.source != boot.SourceBootFile || set.Config.LKG.Disabled {
		return
	}
	after := set.Config.PromoteAfter()
	if b.f.promote > 0 {
		after = b.f.promote
	}
	time.AfterFunc(after, func() {
		b.mu.Lock()
		same := b.gen == gen && b.source == boot.SourceBootFile
		b.mu.Unlock()
		if !same {
			return
		}
		dir := b.lkgDir(set.Config)
		saved, err := boot.SaveLKG(dir, set)
		switch {
		case err != nil:
			b.log.Errorf("last-known-good: cannot save in %s: %v", dir, err)
		case saved:
			b.log.Infof("last-known-good: saved profile %s (%d files) in %s", set.Profile(), len(set.Files), dir)
		}
		b.publish()
	})
}

// reloadLoad is the control server's loader: the boot file reloads the
// whole set (Click files, defines, hooks); another file is a Click
// configuration parsed with the running defines. The running Lua
// on_config hooks must approve.
func (b *box) reloadLoad(file string) (*lang.Graph, error) {
	if sameFile(file, b.f.file) {
		set, err := boot.Load(file, b.loadOpts())
		if err != nil {
			return nil, err
		}
		if err := b.approve(set.BootFile, set.Graph); err != nil {
			return nil, err
		}
		b.mu.Lock()
		needIfs := b.ifs == nil
		b.mu.Unlock()
		if needIfs {
			ifs, err := boot.ApplyInterfaces(set.Config, func(s string) { b.log.Infof("%s", s) })
			if err != nil {
				return nil, err
			}
			b.mu.Lock()
			b.ifs = ifs
			b.mu.Unlock()
		}
		b.mu.Lock()
		b.pending = set
		b.mu.Unlock()
		return set.Graph, nil
	}
	src, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	defines := map[string]string{}
	b.mu.Lock()
	if b.set != nil {
		defines = b.set.Defines
	}
	b.mu.Unlock()
	g, err := control.ParseConfig(file, src, defines)
	if err != nil {
		return nil, err
	}
	return g, b.approve(file, g)
}

func sameFile(a, c string) bool {
	sa, err1 := os.Stat(a)
	sc, err2 := os.Stat(c)
	if err1 == nil && err2 == nil {
		return os.SameFile(sa, sc)
	}
	return filepath.Clean(a) == filepath.Clean(c)
}

func (b *box) approve(name string, g *lang.Graph) error {
	b.mu.Lock()
	hooks := b.hooks
	b.mu.Unlock()
	if len(hooks) == 0 {
		return nil
	}
	req := lua.ConfigRequest{Name: name, Text: lang.Unparse(g)}
	for _, e := range g.Elements {
		req.Elements = append(req.Elements, lua.ElementInfo{Name: e.Name, Class: e.Class, Config: e.Config})
	}
	for _, h := range hooks {
		if !h.Has("on_config") {
			continue
		}
		ok, reason, err := h.OnConfig(req)
		if err != nil && reason == "" {
			reason = err.Error()
		}
		if !ok {
			return fmt.Errorf("configuration rejected by the Lua on_config hook: %s", reason)
		}
	}
	return nil
}

// reloaded is called by the control server after every successful
// reload: a `config load` of the boot file in the shell makes the loaded
// set the running one (profile, hooks, probes, LKG promotion, no longer
// degraded) as SIGHUP does.
func (b *box) reloaded(file string, rep runtime.SwapReport) {
	b.commitPending()
	b.publish() // element count after a reload of another Click file
	b.mu.Lock()
	hup := b.hup
	b.mu.Unlock()
	if hup {
		return
	}
	b.log.Infof("config load %s: %d kept, %d added, %d removed", file, len(rep.Kept), len(rep.Added), len(rep.Removed))
	st := boot.CurrentStatus()
	b.log.Infof("ready: profile=%s elements=%d interfaces=%s", st.Profile, st.Elements, strings.Join(st.Interfaces, ","))
}

// reload is SIGHUP: re-read the boot file and swap the graph in.
func (b *box) reload() {
	b.log.Infof("SIGHUP: reloading %s", b.f.file)
	start := time.Now()
	b.mu.Lock()
	b.hup = true
	b.mu.Unlock()
	rep, err := b.srv.Reload(b.f.file)
	b.mu.Lock()
	b.hup = false
	b.mu.Unlock()
	if err != nil {
		b.log.Errorf("reload failed, running configuration unchanged:\n%v", err)
		return
	}
	b.commitPending()
	b.log.Infof("reloaded in %s: %d kept, %d added, %d removed", time.Since(start).Round(time.Microsecond), len(rep.Kept), len(rep.Added), len(rep.Removed))
	st := boot.CurrentStatus()
	b.log.Infof("ready: profile=%s elements=%d interfaces=%s", st.Profile, st.Elements, strings.Join(st.Interfaces, ","))
}

// commitPending makes the set the reload path loaded the running one, if
// the runner now runs its graph (a reload through the shell ends here
// too, on the next status read or SIGHUP).
func (b *box) commitPending() {
	b.mu.Lock()
	p := b.pending
	if p == nil || b.runner.Router().Graph != p.Graph {
		b.mu.Unlock()
		return
	}
	b.pending, b.set = nil, p
	b.source, b.reason = boot.SourceBootFile, ""
	b.gen++
	b.mu.Unlock()
	b.log.setConfig(p.Config.Log, b.f.logFile)
	b.startExtras(p)
	b.publish()
	b.schedulePromotion()
}

func (b *box) shutdown() {
	if b.srv != nil {
		b.srv.Close()
	}
	b.mu.Lock()
	if b.probeC != nil {
		b.probeC()
	}
	hooks := b.hooks
	b.hooks = nil
	b.mu.Unlock()
	lua.SetActiveHooks(nil)
	for _, h := range hooks {
		h.Close()
	}
	b.ifs.Restore()
	b.log.Infof("stopped")
}

// confineCPUs sets the CPU affinity of every thread of the process (new
// threads inherit it).
func confineCPUs(cpus []int) error {
	var set unix.CPUSet
	for _, c := range cpus {
		set.Set(c)
	}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return unix.SchedSetaffinity(0, &set)
	}
	for _, t := range tasks {
		var tid int
		fmt.Sscan(t.Name(), &tid)
		if err := unix.SchedSetaffinity(tid, &set); err != nil {
			return fmt.Errorf("cannot confine to CPUs %v: %v", cpus, err)
		}
	}
	return nil
}

// probeLoop runs one [[probe]] every period, appending one JSON line per
// run to OUTPUT/NAME.jsonl and passing the result to on_probe_result.
func (b *box) probeLoop(ctx context.Context, set *boot.Set, i int, p boot.Probe) {
	every := p.Every.Duration
	if every == 0 {
		every = 5 * time.Minute
	}
	out := firstNonEmpty(p.Output, "/var/lib/flowbox/probes")
	for {
		b.runProbe(ctx, set, p, out)
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

func (b *box) runProbe(ctx context.Context, set *boot.Set, p boot.Probe, outDir string) {
	args := []string{"-j", "-n"}
	if p.Script != "" {
		script := p.Script
		if !filepath.IsAbs(script) {
			script = filepath.Join(filepath.Dir(set.BootFile), script)
		}
		args = append(args, "-s", set.Path(script))
	}
	args = append(args, p.Args...)
	if p.Target != "" {
		args = append(args, p.Target)
	}
	var so, se bytes.Buffer
	start := time.Now()
	code := cli.Main(args, cli.Env{Stdout: &so, Stderr: &se})
	if ctx.Err() != nil {
		return
	}
	res := strings.TrimSpace(so.String())
	rec := map[string]any{"probe": p.Name, "time": start.UTC().Format(time.RFC3339), "duration_ms": time.Since(start).Milliseconds(), "exit": code}
	if strings.HasPrefix(res, "{") && !strings.Contains(res, "\n") {
		rec["result"] = rawJSON(res)
	} else if res != "" {
		rec["output"] = res
	}
	if e := strings.TrimSpace(se.String()); e != "" {
		rec["error"] = e
	}
	line, err := marshalLine(rec)
	if err != nil {
		b.log.Errorf("probe %s: %v", p.Name, err)
		return
	}
	if err := os.MkdirAll(outDir, 0o755); err == nil {
		fh, err := os.OpenFile(filepath.Join(outDir, p.Name+".jsonl"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err == nil {
			fh.Write(line)
			fh.Close()
		} else {
			b.log.Errorf("probe %s: %v", p.Name, err)
		}
	}
	b.log.Infof("probe %s: exit %d, %d bytes of results", p.Name, code, len(res))
	b.mu.Lock()
	hooks := b.hooks
	b.mu.Unlock()
	for _, h := range hooks {
		if h.Has("on_probe_result") {
			if _, err := h.OnProbeResult(map[string]any{"probe": p.Name, "exit": code, "result": res}); err != nil {
				b.log.Warnf("on_probe_result: %v", err)
			}
		}
	}
}

type rawJSON string

func (r rawJSON) MarshalJSON() ([]byte, error) { return []byte(r), nil }

func marshalLine(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// startMetrics serves /metrics: the control package's runner metrics
// followed by the boot state (flowbox_degraded, flowbox_boot_info).
func (b *box) startMetrics(addr string) {
	if addr == "" {
		return
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		b.log.Errorf("metrics %s: %v (metrics off)", addr, err)
		return
	}
	inner := control.MetricsHandler(b.runner)
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, req *http.Request) {
		r2 := req.Clone(req.Context())
		r2.Header.Set("Accept", "text/plain; version=0.0.4")
		r2.Header.Del("Accept-Encoding")
		rec := httptest.NewRecorder()
		inner.ServeHTTP(rec, r2)
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
		io.WriteString(w, bootMetrics(boot.CurrentStatus()))
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(l)
	b.log.Infof("metrics on http://%s/metrics", l.Addr())
}

func bootMetrics(st boot.Status) string {
	deg := 0
	if st.Degraded {
		deg = 1
	}
	lkg := 0.0
	if !st.LKGSaved.IsZero() {
		lkg = float64(st.LKGSaved.Unix())
	}
	return fmt.Sprintf(`# HELP flowbox_degraded 1 when flowbox runs its last-known-good configuration or only its control socket (see 'show boot').
# TYPE flowbox_degraded gauge
flowbox_degraded %d
# HELP flowbox_boot_info Boot state: profile and where the running configuration came from (boot-file, last-known-good, rescue).
# TYPE flowbox_boot_info gauge
flowbox_boot_info{profile=%q,source=%q} 1
# HELP flowbox_lkg_saved_timestamp_seconds When the last-known-good set was saved (0: none).
# TYPE flowbox_lkg_saved_timestamp_seconds gauge
flowbox_lkg_saved_timestamp_seconds %g
`, deg, st.Profile, string(st.Source), lkg)
}

func init() {
	// The kernel runs /init (this binary) with no command word, plus any
	// command-line words it did not recognise: run 'flowbox init'.
	if os.Getpid() == 1 && filepath.Base(os.Args[0]) == "init" {
		os.Args = []string{os.Args[0], "init"}
	}
	commands["init"] = command{"PID 1 of the firmware image: mount, load NIC modules, bring up lo, supervise 'flowbox boot'", initCmd}
}

const initUsage = `
usage: flowbox init

The firmware image's /init (make firmware). As PID 1 it mounts /proc,
/sys, /dev (devtmpfs), /run and /tmp, attaches the console, loads the
kernel modules listed in /lib/modules/flowbox/load (one .ko path per
line, in order; virtio_net and its dependencies in the image), brings up
lo, then runs 'flowbox boot -c FILE' and restarts it if it exits.

Kernel command line:
  flowbox.boot=FILE     boot file (default /etc/flowbox/boot.toml)
  flowbox.profile=NAME  use /etc/flowbox/profiles/NAME/boot.toml
  flowbox.args="..."    extra 'flowbox boot' arguments (space separated)

SIGTERM or SIGUSR2 powers off (after stopping flowbox), SIGINT
(Ctrl-Alt-Del) reboots, SIGHUP is passed on (reload).`

// ModulesList is where the image lists the kernel modules init loads.
const ModulesList = "/lib/modules/flowbox/load"

func initCmd(args []string) int {
	fs := newFlagSet("init", initUsage)
	if err := parseFlags(fs, args); err != nil {
		return exitUsage(stderr, err)
	}
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "flowbox init: must run as PID 1 (it is the firmware image's /init); use 'flowbox boot' on a running system")
		return 2
	}
	initMounts()
	initConsole()
	say := func(f string, a ...any) { fmt.Fprintf(os.Stderr, "flowbox init: "+f+"\n", a...) }
	say("started")
	initModules(say)
	if err := linkUp("lo"); err != nil {
		say("lo: %v", err)
	}
	waitNICs(5 * time.Second)
	bootArgs := initBootArgs()
	say("running flowbox boot %s", strings.Join(bootArgs, " "))
	return supervise(bootArgs, say)
}

func initMounts() {
	for _, m := range []struct{ src, dir, typ, data string }{
		{"proc", "/proc", "proc", ""},
		{"sysfs", "/sys", "sysfs", ""},
		{"devtmpfs", "/dev", "devtmpfs", "mode=0755"},
		{"tmpfs", "/run", "tmpfs", "mode=0755"},
		{"tmpfs", "/tmp", "tmpfs", "mode=1777"},
		{"bpf", "/sys/fs/bpf", "bpf", ""},
	} {
		os.MkdirAll(m.dir, 0o755)
		if err := unix.Mount(m.src, m.dir, m.typ, unix.MS_NOSUID, m.data); err != nil && !errors.Is(err, unix.EBUSY) {
			fmt.Fprintf(os.Stderr, "flowbox init: mount %s: %v\n", m.dir, err)
		}
	}
}

// initConsole points stdin/out/err at /dev/console (the kernel does it
// only when the image has a /dev/console node).
func initConsole() {
	fd, err := unix.Open("/dev/console", unix.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return
	}
	for i := 0; i < 3; i++ {
		unix.Dup3(fd, i, 0)
	}
	if fd > 2 {
		unix.Close(fd)
	}
}

// initModules loads the modules named in ModulesList with finit_module.
func initModules(say func(string, ...any)) {
	b, err := os.ReadFile(ModulesList)
	if err != nil {
		return
	}
	for _, p := range strings.Fields(string(b)) {
		f, err := os.Open(p)
		if err != nil {
			say("module %s: %v", p, err)
			continue
		}
		flags := 0
		if strings.HasSuffix(p, ".xz") || strings.HasSuffix(p, ".zst") || strings.HasSuffix(p, ".gz") {
			flags = unix.MODULE_INIT_COMPRESSED_FILE
		}
		err = unix.FinitModule(int(f.Fd()), "", flags)
		f.Close()
		switch {
		case err == nil:
			say("loaded %s", filepath.Base(p))
		case errors.Is(err, unix.EEXIST):
		default:
			say("module %s: %v", filepath.Base(p), err)
		}
	}
}

// waitNICs waits until the set of network interfaces stops changing
// (drivers probe asynchronously after their module loads).
func waitNICs(limit time.Duration) {
	deadline := time.Now().Add(limit)
	last, stable := -1, 0
	for time.Now().Before(deadline) && stable < 3 {
		ents, _ := os.ReadDir("/sys/class/net")
		if len(ents) == last && len(ents) > 1 {
			stable++
		} else {
			stable = 0
		}
		last = len(ents)
		time.Sleep(100 * time.Millisecond)
	}
}

func initBootArgs() []string {
	file := boot.DefaultPath
	var extra []string
	cmdline, _ := os.ReadFile("/proc/cmdline")
	for _, w := range splitCmdline(string(cmdline)) {
		k, v, _ := strings.Cut(w, "=")
		switch k {
		case "flowbox.boot":
			file = v
		case "flowbox.profile":
			file = filepath.Join("/etc/flowbox/profiles", v, "boot.toml")
		case "flowbox.args":
			extra = strings.Fields(v)
		}
	}
	return append([]string{"-c", file}, extra...)
}

// splitCmdline splits the kernel command line, honouring double quotes.
func splitCmdline(s string) []string {
	var out []string
	var cur strings.Builder
	quoted, have := false, false
	for _, r := range s {
		switch {
		case r == '"':
			quoted, have = !quoted, true
		case (r == ' ' || r == '\n' || r == '\t') && !quoted:
			if have {
				out = append(out, cur.String())
			}
			cur.Reset()
			have = false
		default:
			cur.WriteRune(r)
			have = true
		}
	}
	if have {
		out = append(out, cur.String())
	}
	return out
}

func linkUp(name string) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return err
	}
	return netlink.LinkSetUp(l)
}

// supervise runs 'flowbox boot ARGS' as a child, reaps every orphan (PID 1
// duty) and restarts the child when it exits.
func supervise(bootArgs []string, say func(string, ...any)) int {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, unix.SIGCHLD, unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGUSR2)
	self, err := os.Executable()
	if err != nil {
		self = "/init"
	}
	start := func() int {
		pid, err := syscall.ForkExec(self, append([]string{"flowbox", "boot"}, bootArgs...), &syscall.ProcAttr{
			Env:   []string{"PATH=/bin:/sbin:/usr/bin:/usr/sbin", "HOME=/root", "TERM=linux"},
			Files: []uintptr{0, 1, 2},
		})
		if err != nil {
			say("cannot start flowbox boot: %v", err)
			return 0
		}
		return pid
	}
	child := start()
	var stopping int // 0, or the reboot command to run when the child is gone
	for s := range sigs {
		switch s {
		case unix.SIGCHLD:
			for {
				var ws unix.WaitStatus
				pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
				if pid <= 0 || err != nil {
					break
				}
				if pid != child {
					continue
				}
				child = 0
				if stopping != 0 {
					unix.Sync()
					unix.Reboot(stopping)
					return 0
				}
				say("flowbox boot exited (status %d); restarting in 2s", ws.ExitStatus())
				time.Sleep(2 * time.Second)
				child = start()
			}
		case unix.SIGHUP:
			if child > 0 {
				unix.Kill(child, unix.SIGHUP)
			}
		default:
			stopping = unix.LINUX_REBOOT_CMD_POWER_OFF
			if s == unix.SIGINT {
				stopping = unix.LINUX_REBOOT_CMD_RESTART
			}
			if child <= 0 {
				unix.Sync()
				unix.Reboot(stopping)
				return 0
			}
			unix.Kill(child, unix.SIGTERM)
			go func() {
				time.Sleep(10 * time.Second)
				unix.Sync()
				unix.Reboot(stopping)
			}()
		}
	}
	return 0
}
