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
//	kernel         Linux IPv4 forwarding (d0 receive steered to CPU 1 by RPS)
//	bare-xdp       rings.XDPForwardLoopTo: bare AF_XDP loop (user-space limit)
//	bare-packet    bare TPACKET_V2 ring loop on rings PACKET ports
//	one-syscall    one recvfrom + one sendto per frame (Click's FromDevice/ToDevice)
//	flowbox-xdp    flowbox run: FromDevice(METHOD XDP) -> router elements -> ToDevice
//	flowbox-packet the same with METHOD PACKET (SNIFFER false)
//
// Every user-space forwarder does the same per-packet work (parse Eth+IPv4,
// check, TTL-1 with incremental checksum, MAC rewrite). Each measurement is
// a warm-up plus a fixed window; the table gives the median of -reps runs.
// A second table offers fixed rates below and above each flowbox method's
// capacity to show that delivery does not collapse under overload.
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
	reps     int
	warm     time.Duration
	window   time.Duration
	sizes    []int // on the wire, FCS included
	fwds     []string
	overload bool
	flowbox  string
	verbose  bool
	// retryBudget: after this much total run time, runs are no longer
	// repeated for foreign CPU use (keeps the whole run bounded).
	retryBudget time.Duration
}

var allFwds = []string{"kernel", "bare-xdp", "bare-packet", "one-syscall", "flowbox-xdp", "flowbox-packet"}

func bench(args []string) error {
	fs := flag.NewFlagSet("iobench", flag.ExitOnError)
	var c config
	fs.IntVar(&c.reps, "reps", 3, "runs per measurement (the table shows the median)")
	fs.DurationVar(&c.warm, "warm", time.Second, "warm-up before each window")
	fs.DurationVar(&c.window, "window", 3*time.Second, "measurement window")
	sizes := fs.String("sizes", "64,1500", "frame sizes on the wire (FCS included: 64 sends 60-byte buffers)")
	fwds := fs.String("fwd", strings.Join(allFwds, ","), "forwarders to run")
	fs.BoolVar(&c.overload, "overload", true, "also run the fixed-offered-rate table for flowbox (64 B)")
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
		return fmt.Errorf("iobench needs the nft command (one-syscall forwarder's ingress drop)")
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

// cpuStat is per-CPU (busy, total) jiffies from /proc/stat.
func cpuStat() [][2]uint64 {
	b, _ := os.ReadFile("/proc/stat")
	var r [][2]uint64
	for _, ln := range strings.Split(string(b), "\n") {
		f := strings.Fields(ln)
		if len(f) < 9 || !strings.HasPrefix(f[0], "cpu") || f[0] == "cpu" {
			continue
		}
		var tot, idle uint64
		for i := 1; i < len(f) && i <= 8; i++ {
			v, _ := strconv.ParseUint(f[i], 10, 64)
			tot += v
			if i == 4 || i == 5 { // idle, iowait
				idle += v
			}
		}
		r = append(r, [2]uint64{tot - idle, tot})
	}
	return r
}

func busy(a, b [][2]uint64) []float64 {
	var r []float64
	for i := range a {
		if i < len(b) && b[i][1] > a[i][1] {
			r = append(r, float64(b[i][0]-a[i][0])/float64(b[i][1]-a[i][1]))
		}
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
