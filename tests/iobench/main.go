//go:build linux

// Command iobench is flowbox's on-wire benchmark (`make bench-io`; not a
// test). It builds gen → dut → sink out of three network namespaces and two
// veth pairs,
//
//	[gen] g0 ──veth── d0 [dut] d1 ──veth── s0 [sink]
//
// sends 64- and 1500-byte Ethernet/IPv4/UDP frames from an AF_XDP
// generator pinned to CPU 0, forwards them in the dut with each forwarder
// pinned to CPU 1, and counts what arrives at s0 (rx_packets; the next-hop
// MAC is not s0's, so the sink drops each frame cheaply in ip_rcv):
//
//	kernel         Linux IPv4 forwarding
//	bare-xdp       rings.XDPForwardLoopTo: bare AF_XDP loop (user-space limit)
//	bare-packet    bare TPACKET_V2 ring loop on rings PACKET ports
//	one-syscall    one ReadFrom + one WriteTo per frame on mdlayher/packet
//	               sockets (Click's FromDevice/ToDevice; the forwarder
//	               io-limits.md measured, the 0.13 Mpps reference)
//	one-syscall-raw the same with raw recvfrom/sendto syscalls: no Go
//	               netpoller, no allocation (a stricter floor)
//	flowbox-xdp    flowbox run: FromDevice(METHOD XDP) -> router elements -> ToDevice
//	flowbox-packet the same with METHOD PACKET (SNIFFER false)
//	bare-packet-shed, flowbox-packet-shed
//	               the PACKET pair with XDP load shedding on d0
//	               (rings.Options.Shed, FromDevice SHED true)
//
// Two layouts (see /work/shared/reference/io-limits.md):
//
//	A  the forwarder's core is the bottleneck: the dut's input receive work
//	   runs on CPU 1 too (RPS on d0 → CPU 1 for the kernel and AF_PACKET
//	   forwarders; for the AF_XDP ones native XDP on d0, whose NAPI is
//	   switched to a kthread pinned to CPU 1)
//	B  default veth: d0's receive work runs on the generator's core
//
// Every user-space forwarder does the same per-packet work (parse Eth+IPv4,
// check, TTL-1 with incremental checksum, MAC rewrite). Each measurement is
// a warm-up plus a fixed window; tables give the median of several runs,
// delivered Mpps and CPU 1 busy time per delivered frame. In the first
// layout a ladder of paced offered loads (the same for every forwarder)
// finds each forwarder's peak and checks for collapse at max offered load.
//
// Needs root. Namespaces are named fbxb*<random> and deleted on exit, on
// error and on Ctrl-C; generator and forwarders are child processes bounded
// in time.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"flowbox/tests/netns/nsenv"
)

func main() {
	if len(os.Args) > 1 {
		var err error
		switch os.Args[1] {
		case "gen":
			err = runGen(os.Args[2:])
		case "fwd":
			err = runFwd(os.Args[2:])
		default:
			err = bench(os.Args[1:])
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "iobench:", err)
			os.Exit(1)
		}
		return
	}
	if err := bench(nil); err != nil {
		fmt.Fprintln(os.Stderr, "iobench:", err)
		os.Exit(1)
	}
}

type config struct {
	reps     int // runs per row in the first layout
	repsB    int // runs per row in the second layout
	lreps    int // runs per point of the capacity / no-collapse ladder
	warm     time.Duration
	window   time.Duration
	sizes    []int // on the wire, FCS included
	fwds     []string
	layouts  []string // "A", "B"
	overload bool
	ladder   []float64 // paced offered rates for the no-collapse check, as fractions of the max offered rate
	ladderF  []string  // forwarders of the no-collapse check
	flowbox  string
	verbose  bool
	// retryBudget: after this much total run time, runs are no longer
	// repeated for foreign CPU use (keeps the whole run bounded).
	retryBudget time.Duration
}

var allFwds = []string{"kernel", "bare-xdp", "bare-packet", "bare-packet-shed", "one-syscall", "one-syscall-raw", "flowbox-xdp", "flowbox-packet", "flowbox-packet-shed"}

func bench(args []string) error {
	fs := flag.NewFlagSet("iobench", flag.ExitOnError)
	var c config
	fs.IntVar(&c.reps, "reps", 3, "runs per row of the first layout's table (the table shows the median)")
	fs.IntVar(&c.repsB, "reps2", 2, "runs per row of the second layout's table (-layout both)")
	fs.IntVar(&c.lreps, "ladder-reps", 2, "runs per point of the capacity / no-collapse ladder")
	fs.DurationVar(&c.warm, "warm", 700*time.Millisecond, "warm-up before each window")
	fs.DurationVar(&c.window, "window", 1500*time.Millisecond, "measurement window")
	sizes := fs.String("sizes", "64,1500", "frame sizes on the wire (FCS included: 64 sends 60-byte buffers)")
	fwds := fs.String("fwd", strings.Join(allFwds, ","), "forwarders to run")
	layout := fs.String("layout", "both", "A (the forwarder's core also does the dut's input receive work: RPS d0→CPU1, native-XDP NAPI thread on CPU1), B (default veth: d0 receive on the generator's core), or both")
	fs.BoolVar(&c.overload, "overload", true, "also run the capacity / no-collapse ladder in the first layout (first size): paced offered rates below and above capacity")
	ladder := fs.String("ladder", "0.2,0.3,0.4,0.5", "paced offered rates of the capacity / no-collapse ladder (first layout, first size), as fractions of the generator's max offered rate there")
	ladderF := fs.String("ladder-fwd", "bare-xdp,flowbox-xdp,bare-packet,flowbox-packet,bare-packet-shed,flowbox-packet-shed,one-syscall,one-syscall-raw", "forwarders of the capacity / no-collapse ladder")
	fs.StringVar(&c.flowbox, "flowbox", "", "flowbox binary (default: go build ./appliance/cmd/flowbox into a temp dir)")
	fs.BoolVar(&c.verbose, "v", false, "log every run")
	fs.DurationVar(&c.retryBudget, "retry-budget", 5*time.Minute, "repeat runs disturbed by other processes only until the whole run is this old")
	fs.Parse(args)
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 64 || n > 1518 {
			return fmt.Errorf("bad -sizes entry %q: use 64..1518", s)
		}
		c.sizes = append(c.sizes, n)
	}
	switch strings.ToUpper(*layout) {
	case "A", "B":
		c.layouts = []string{strings.ToUpper(*layout)}
	case "BOTH", "A,B":
		c.layouts = []string{"A", "B"}
	case "B,A":
		c.layouts = []string{"B", "A"}
	default:
		return fmt.Errorf("bad -layout %q: use A, B or both", *layout)
	}
	for _, s := range strings.Split(*ladder, ",") {
		x, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || x <= 0 || x >= 1 {
			return fmt.Errorf("bad -ladder entry %q: use fractions in (0,1)", s)
		}
		c.ladder = append(c.ladder, x)
	}
	for _, f := range strings.Split(*ladderF, ",") {
		if f = strings.TrimSpace(f); f != "" {
			c.ladderF = append(c.ladderF, f)
		}
	}
	for _, f := range strings.Split(*fwds, ",") {
		f = strings.TrimSpace(f)
		if !contains(allFwds, f) {
			return fmt.Errorf("unknown forwarder %q: use %s", f, strings.Join(allFwds, ","))
		}
		c.fwds = append(c.fwds, f)
	}
	if why := nsenv.Available(); why != "" {
		return fmt.Errorf("iobench %s", why)
	}
	if _, err := exec.LookPath("nft"); err != nil {
		return fmt.Errorf("iobench needs the nft command (the one-syscall forwarders' ingress drop)")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	start := time.Now()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "fbxb-iobench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	// The generator and the bare forwarders are this program re-executed;
	// copy it so that it outlives `go run`'s build cache entry.
	if b, err := os.ReadFile(self); err == nil && os.WriteFile(filepath.Join(tmp, "iobench"), b, 0o755) == nil {
		self = filepath.Join(tmp, "iobench")
	}
	if contains(c.fwds, "flowbox-xdp") || contains(c.fwds, "flowbox-packet") {
		if c.flowbox == "" {
			c.flowbox = filepath.Join(tmp, "flowbox")
			logf("building flowbox")
			cmd := exec.CommandContext(ctx, "go", "build", "-o", c.flowbox, "./appliance/cmd/flowbox")
			cmd.Dir = moduleRoot()
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("building flowbox: %v\n%s", err, out)
			}
		}
	}

	t, err := newTopo()
	if err != nil {
		if t != nil {
			t.close()
		}
		return err
	}
	defer t.close()
	go func() { // Ctrl-C: stop children (run() notices ctx), namespaces go in the defer
		<-ctx.Done()
		t.killAll()
	}()
	b := &runner{c: c, t: t, self: self, ctx: ctx}
	return b.all(start)
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func moduleRoot() string {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err == nil {
		if m := strings.TrimSpace(string(out)); m != "" && m != os.DevNull {
			return filepath.Dir(m)
		}
	}
	return "."
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "iobench: "+format+"\n", args...)
}

// topo is the three namespaces and two veth pairs.
type topo struct {
	env                *nsenv.Env
	gen, dut, sink     string
	g0, d0, d1, s0     string
	d0mac, d1mac, next net.HardwareAddr

	mu   sync.Mutex
	kids map[*kid]bool
}

func newTopo() (*topo, error) {
	e := nsenv.New()
	t := &topo{env: e, kids: map[*kid]bool{}}
	var err error
	if t.gen, err = e.AddNS("bg"); err != nil {
		return t, err
	}
	if t.dut, err = e.AddNS("bd"); err != nil {
		return t, err
	}
	if t.sink, err = e.AddNS("bs"); err != nil {
		return t, err
	}
	t.g0, t.d0, t.d1, t.s0 = e.Name("bg0"), e.Name("bd0"), e.Name("bd1"), e.Name("bs0")
	if err := e.Veth(t.gen, t.g0, t.dut, t.d0); err != nil {
		return t, err
	}
	if err := e.Veth(t.dut, t.d1, t.sink, t.s0); err != nil {
		return t, err
	}
	t.next, _ = net.ParseMAC("02:fb:fb:00:00:99") // not s0's: s0 drops in ip_rcv
	steps := [][]string{
		{"-n", t.gen, "addr", "add", "10.253.1.1/24", "dev", t.g0},
		{"-n", t.dut, "addr", "add", "10.253.1.2/24", "dev", t.d0},
		{"-n", t.dut, "addr", "add", "10.253.2.1/24", "dev", t.d1},
		{"-n", t.sink, "addr", "add", "10.253.2.2/24", "dev", t.s0},
		{"-n", t.dut, "neigh", "replace", "10.253.2.99", "lladdr", t.next.String(), "dev", t.d1, "nud", "permanent"},
	}
	for _, s := range steps {
		if err := nsenv.IP(s...); err != nil {
			return t, err
		}
	}
	if t.d0mac, err = nsenv.MAC(t.dut, t.d0); err != nil {
		return t, err
	}
	if t.d1mac, err = nsenv.MAC(t.dut, t.d1); err != nil {
		return t, err
	}
	nsenv.NS(t.dut, "sysctl", "-qw", "net.ipv4.ip_forward=0")
	return t, nil
}

func (t *topo) close() {
	t.killAll()
	t.env.Close()
}

// kid is a child process (generator or forwarder).
type kid struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// exited reports whether the child has ended.
func (k *kid) exited() bool {
	select {
	case <-k.done:
		return true
	default:
		return false
	}
}

// start runs argv in ns pinned to cpu (GOMAXPROCS=1), in its own process
// group, killed if we die.
func (t *topo) start(ns string, cpu int, out *strings.Builder, argv ...string) (*kid, error) {
	a := append([]string{"netns", "exec", ns, "taskset", "-c", strconv.Itoa(cpu)}, argv...)
	cmd := exec.Command("ip", a...)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	k := &kid{cmd: cmd, done: make(chan struct{})}
	go func() { k.err = cmd.Wait(); close(k.done) }()
	t.mu.Lock()
	t.kids[k] = true
	t.mu.Unlock()
	return k, nil
}

// stop sends SIGINT, waits up to 5 s, then kills the process group.
func (t *topo) stop(k *kid) error {
	if k == nil {
		return nil
	}
	_ = k.cmd.Process.Signal(os.Interrupt)
	select {
	case <-k.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-k.cmd.Process.Pid, syscall.SIGKILL)
		<-k.done
	}
	t.mu.Lock()
	delete(t.kids, k)
	t.mu.Unlock()
	return k.err
}

func (t *topo) killAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k := range t.kids {
		if !k.exited() {
			_ = syscall.Kill(-k.cmd.Process.Pid, syscall.SIGKILL)
		}
	}
}

// devCounters reads /proc/net/dev of namespace ns.
func devCounters(ns string) (map[string][4]uint64, error) {
	m := map[string][4]uint64{}
	err := nsenv.Run(ns, func() error {
		b, err := os.ReadFile("/proc/thread-self/net/dev")
		if err != nil {
			return err
		}
		for _, ln := range strings.Split(string(b), "\n") {
			name, rest, ok := strings.Cut(ln, ":")
			if !ok {
				continue
			}
			f := strings.Fields(rest)
			if len(f) < 12 {
				continue
			}
			var v [16]uint64
			for i := range 12 {
				v[i], _ = strconv.ParseUint(f[i], 10, 64)
			}
			// rx packets, rx dropped, tx packets, tx dropped
			m[strings.TrimSpace(name)] = [4]uint64{v[1], v[3], v[9], v[11]}
		}
		return nil
	})
	return m, err
}

// cpuTimes are one CPU's /proc/stat jiffies (USER_HZ).
type cpuTimes struct{ usr, sys, si, idle, steal, total uint64 }

// cpuStat reads per-CPU times from /proc/stat.
func cpuStat() []cpuTimes {
	b, _ := os.ReadFile("/proc/stat")
	var r []cpuTimes
	for _, ln := range strings.Split(string(b), "\n") {
		f := strings.Fields(ln)
		if len(f) < 9 || !strings.HasPrefix(f[0], "cpu") || f[0] == "cpu" {
			continue
		}
		var v [9]uint64
		for i := 1; i < len(f) && i <= 8; i++ {
			v[i], _ = strconv.ParseUint(f[i], 10, 64)
		}
		// user nice system idle iowait irq softirq steal
		c := cpuTimes{usr: v[1] + v[2], sys: v[3], si: v[6] + v[7], idle: v[4] + v[5], steal: v[8]}
		c.total = c.usr + c.sys + c.si + c.idle + c.steal
		r = append(r, c)
	}
	return r
}

// cpuDelta is what one CPU did between two cpuStat snapshots: busy
// (user+nice+system+irq+softirq, steal left out) as a fraction of the
// elapsed time, the same split by kind, and busy seconds.
type cpuDelta struct {
	busy, usr, sys, si float64 // fractions of elapsed
	busySec            float64
}

func cpuDeltas(a, b []cpuTimes) []cpuDelta {
	var r []cpuDelta
	for i := range a {
		if i >= len(b) || b[i].total <= a[i].total {
			r = append(r, cpuDelta{})
			continue
		}
		tot := float64(b[i].total - a[i].total)
		u, s, si := float64(b[i].usr-a[i].usr), float64(b[i].sys-a[i].sys), float64(b[i].si-a[i].si)
		r = append(r, cpuDelta{busy: (u + s + si) / tot, usr: u / tot, sys: s / tot, si: si / tot, busySec: (u + s + si) / 100})
	}
	return r
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// procTicks returns utime+stime (clock ticks) of every user-space process
// whose process group is not one of ours (kernel threads, which carry the
// forwarding softirq work, are left out).
func procTicks(ours map[int]bool) map[int]uint64 {
	m := map[int]uint64{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 13 {
			continue
		}
		pgrp, _ := strconv.Atoi(f[2])
		flags, _ := strconv.ParseUint(f[6], 10, 64)
		if flags&0x00200000 != 0 || ours[pgrp] || ours[pid] { // PF_KTHREAD
			continue
		}
		u, _ := strconv.ParseUint(f[11], 10, 64)
		s, _ := strconv.ParseUint(f[12], 10, 64)
		m[pid] = u + s
	}
	return m
}

// groupTicks is utime+stime (clock ticks) of every process in process
// group pgrp (a forwarder and its wrappers).
func groupTicks(pgrp int) uint64 {
	var t uint64
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 13 {
			continue
		}
		if g, _ := strconv.Atoi(f[2]); g != pgrp {
			continue
		}
		u, _ := strconv.ParseUint(f[11], 10, 64)
		s, _ := strconv.ParseUint(f[12], 10, 64)
		t += u + s
	}
	return t
}

// ourGroups are the process groups of this program and its children.
func (t *topo) ourGroups() map[int]bool {
	g := map[int]bool{os.Getpid(): true, syscall.Getpgrp(): true, os.Getppid(): true}
	t.mu.Lock()
	for k := range t.kids {
		g[k.cmd.Process.Pid] = true
	}
	t.mu.Unlock()
	return g
}

// foreignCores is how many cores' worth of CPU other processes used
// between two procTicks snapshots taken el seconds apart (USER_HZ 100).
func foreignCores(a, b map[int]uint64, el float64) float64 {
	var d uint64
	for pid, v := range b {
		if v > a[pid] {
			d += v - a[pid]
		}
	}
	return float64(d) / 100 / el
}
