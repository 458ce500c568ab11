//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"flowbox/tests/netns/nsenv"
)

type runner struct {
	c     config
	t     *topo
	self  string
	ctx   context.Context
	start time.Time

	waited  time.Duration // total time spent waiting for a quiet machine
	retried int           // runs repeated because of foreign CPU use
	dirty   int           // runs kept although foreign CPU use stayed high
	notes   []string
	reps    map[string]int // runs per row, by layout

	ladderBase float64
}

// sample is one measurement (rates in Mpps).
type sample struct {
	offered, delivered float64
	d0drop             float64 // frames the dut's input lost (d0 rx_dropped + g0 tx_dropped)
	cpu                []cpuDelta
	c1ns               float64 // CPU 1 busy time per delivered frame, ns
	procNs             float64 // the forwarder process's own CPU time per delivered frame, ns
	foreign            float64 // cores used by other processes in the window
}

type key struct {
	layout string
	fwd    string
	size   int
	rate   float64 // offered target as a fraction of the max offered rate, 0 = max
}

func (r *runner) all(start time.Time) error {
	r.start = start
	r.reps = map[string]int{}
	res := map[key][]sample{}
	med := func(k key, f func(sample) float64) float64 {
		var v []float64
		for _, s := range res[k] {
			v = append(v, f(s))
		}
		return median(v)
	}
	del := func(s sample) float64 { return s.delivered }
	off := func(s sample) float64 { return s.offered }
	logf("topology %s / %s / %s up; layouts %v, %d forwarders x %v x %d runs", r.t.gen, r.t.dut, r.t.sink, r.c.layouts, len(r.c.fwds), r.c.sizes, r.c.reps)

	var ladderKeys []key
	for li, lay := range r.c.layouts {
		// Repetitions outermost: slow drifts of the (shared) machine
		// spread over all forwarders instead of biasing one.
		reps := r.c.reps
		if li > 0 {
			reps = r.c.repsB
		}
		r.reps[lay] = reps
		for rep := 0; rep < reps; rep++ {
			for _, size := range r.c.sizes {
				for _, f := range r.c.fwds {
					s, err := r.measure(lay, f, size, 0)
					if err != nil {
						return err
					}
					k := key{lay, f, size, 0}
					res[k] = append(res[k], s)
				}
			}
		}
		if !r.c.overload || li != 0 {
			continue
		}
		// No-collapse check: the same forwarder at paced offered rates
		// below and around its capacity; the max-offered run above is
		// the "well above capacity" point.
		// The rates are fractions of one base, the generator's median
		// max offered rate over those forwarders, so that every forwarder
		// is offered the same loads.
		size := r.c.sizes[0]
		var offs []float64
		for _, f := range r.c.ladderF {
			for _, s := range res[key{lay, f, size, 0}] {
				offs = append(offs, s.offered)
			}
		}
		omax := median(offs)
		r.ladderBase = omax
		for rep := 0; rep < r.c.lreps; rep++ {
			for _, f := range r.c.ladderF {
				if !contains(r.c.fwds, f) {
					continue
				}
				for _, x := range r.c.ladder {
					k := key{lay, f, size, x}
					s, err := r.measure(lay, f, size, x*omax*1e6)
					if err != nil {
						return err
					}
					if rep == 0 {
						ladderKeys = append(ladderKeys, k)
					}
					res[k] = append(res[k], s)
				}
			}
		}
	}

	// The tables.
	uname, _ := exec.Command("uname", "-r").Output()
	fmt.Printf("\n## flowbox on-wire benchmark (make bench-io)\n\n")
	fmt.Printf("%s, %s, %d vCPU, kernel %s; Go %s; median of %s runs per row (%d per ladder point), %v warm-up + %v window each; generator AF_XDP TX on CPU 0, forwarder on CPU 1; total run %v (waited %v for a quiet machine).\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), cpuModel(), runtime.NumCPU(), strings.TrimSpace(string(uname)), runtime.Version(),
		repsText(r.c.layouts, r.reps), r.c.lreps, r.c.warm, r.c.window, time.Since(start).Round(time.Second), r.waited.Round(100*time.Millisecond))
	bareOf := map[string]string{"bare-xdp": "bare-xdp", "flowbox-xdp": "bare-xdp", "bare-packet": "bare-packet", "flowbox-packet": "bare-packet",
		"bare-packet-shed": "bare-packet-shed", "flowbox-packet-shed": "bare-packet-shed"}
	for _, lay := range r.c.layouts {
		fmt.Printf("\n### Layout %s: %s\n\n", lay, layoutText[lay])
		fmt.Printf("| forwarder | frame | offered Mpps | delivered Mpps [min–max] | × its bare loop | × one-syscall | × one-syscall-raw | input drops Mpps | CPU0 / CPU1 busy | CPU1 usr/sys/si %% | **CPU1 ns per delivered pkt** | CPU/pkt ÷ its bare loop's | forwarder process ns/pkt | foreign cores |\n")
		fmt.Printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, size := range r.c.sizes {
			for _, f := range r.c.fwds {
				k := key{lay, f, size, 0}
				d := med(k, del)
				lo, hi := minmax(res[k], del)
				ref := func(rf string) (key, bool) {
					rk := key{lay, rf, size, 0}
					_, ok := res[rk]
					return rk, ok && rf != ""
				}
				ratio := func(rf string) string {
					if rk, ok := ref(rf); ok {
						if rd := med(rk, del); rd > 0 {
							return fmt.Sprintf("%.2f", d/rd)
						}
					}
					return "–"
				}
				c1 := med(k, func(s sample) float64 { return cpuAt(s.cpu, 1).busy })
				ns := med(k, func(s sample) float64 { return s.c1ns })
				mark := ""
				if c1 < 0.95 {
					mark = " †"
				}
				cpuRatio := "–"
				if rk, ok := ref(bareOf[f]); ok && rk.fwd != f {
					if bn := med(rk, func(s sample) float64 { return s.c1ns }); bn > 0 {
						cpuRatio = fmt.Sprintf("%.2f", ns/bn)
					}
				}
				procNs := "–"
				if f != "kernel" {
					procNs = fmt.Sprintf("%.0f", med(k, func(s sample) float64 { return s.procNs }))
				}
				fmt.Printf("| %s | %d B | %.3f | **%.3f** [%.3f–%.3f] | %s | %s | %s | %.3f | %.2f / %.2f | %.0f/%.0f/%.0f | **%.0f**%s | %s | %s | %.2f |\n",
					label(lay, f), size, med(k, off), d, lo, hi, ratio(bareOf[f]), ratio("one-syscall"), ratio("one-syscall-raw"),
					med(k, func(s sample) float64 { return s.d0drop }),
					med(k, func(s sample) float64 { return cpuAt(s.cpu, 0).busy }), c1,
					100*med(k, func(s sample) float64 { return cpuAt(s.cpu, 1).usr }),
					100*med(k, func(s sample) float64 { return cpuAt(s.cpu, 1).sys }),
					100*med(k, func(s sample) float64 { return cpuAt(s.cpu, 1).si }),
					ns, mark, cpuRatio, procNs,
					med(k, func(s sample) float64 { return s.foreign }))
			}
		}
	}
	if len(ladderKeys) > 0 {
		lay, size := ladderKeys[0].layout, ladderKeys[0].size
		nsOf := func(s sample) float64 { return s.c1ns }
		fmt.Printf("\n### Capacity and no-collapse check (layout %s, %d B): paced offered load, then max offered load\n\n", lay, size)
		fmt.Printf("| forwarder | offered target | offered Mpps | delivered Mpps [min–max] | input drops Mpps | CPU1 busy | CPU1 ns/pkt | delivered / peak |\n|---|---|---|---|---|---|---|---|\n")
		type peakInfo struct {
			k          key
			d, ns, off float64
			maxD, maxO float64
		}
		peaks := map[string]peakInfo{}
		for _, f := range r.c.ladderF {
			mk := key{lay, f, size, 0}
			if _, ok := res[mk]; !ok {
				continue
			}
			var ks []key
			for _, k := range ladderKeys {
				if k.fwd == f {
					ks = append(ks, k)
				}
			}
			ks = append(ks, mk)
			var p peakInfo
			for _, k := range ks {
				if d := med(k, del); d > p.d {
					p = peakInfo{k: k, d: d, ns: med(k, nsOf), off: med(k, off)}
				}
			}
			p.maxD, p.maxO = med(mk, del), med(mk, off)
			peaks[f] = p
			for _, k := range ks {
				d := med(k, del)
				lo, hi := minmax(res[k], del)
				tgt := "**max**"
				if k.rate > 0 {
					tgt = fmt.Sprintf("%.2f × base", k.rate)
				}
				fmt.Printf("| %s | %s | %.3f | %.3f [%.3f–%.3f] | %.3f | %.2f | %.0f | %.2f |\n", label(lay, f), tgt, med(k, off), d, lo, hi,
					med(k, func(s sample) float64 { return s.d0drop }), med(k, func(s sample) float64 { return cpuAt(s.cpu, 1).busy }), med(k, nsOf), d/p.d)
			}
		}
		fmt.Printf("\nSummary. Peak = the best median delivered rate over all offered loads above; collapse = delivered at max offered load < 0.9 × peak; dip = the same at a paced load more than 5%% above the peak. \"Equal-load CPU/pkt ÷ bare's\" compares CPU 1 ns per frame with the bare loop of the same method at each offered load where both delivered ≥ 97%% of it (the same frames, the same idle strategy for the PACKET pair; the XDP pair differs in idle waiting, see the notes):\n\n")
		fmt.Printf("| forwarder | peak Mpps (at offered) | CPU1 ns/pkt at peak | peak × its bare loop's | peak × one-syscall's | peak × one-syscall-raw's | equal-load CPU/pkt ÷ bare's (load: ratio) | max offered Mpps (× peak) | delivered there / peak | worst delivered / peak at offered > 1.05 × peak (offered) | verdict |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, f := range r.c.ladderF {
			p, ok := peaks[f]
			if !ok {
				continue
			}
			xr, xo, xw, eq := "–", "–", "–", "–"
			if b, ok := peaks[bareOf[f]]; ok && bareOf[f] != f {
				xr = fmt.Sprintf("%.2f", p.d/b.d)
				var l []string
				for _, x := range r.c.ladder {
					k, bk := key{lay, f, size, x}, key{lay, bareOf[f], size, x}
					d, bd, o, bo := med(k, del), med(bk, del), med(k, off), med(bk, off)
					if o > 0 && bo > 0 && d >= 0.97*o && bd >= 0.97*bo {
						l = append(l, fmt.Sprintf("%.2f: %.2f", x, med(k, nsOf)/med(bk, nsOf)))
					}
				}
				if len(l) > 0 {
					eq = strings.Join(l, ", ")
				}
			}
			if o, ok := peaks["one-syscall"]; ok && f != "one-syscall" && o.d > 0 {
				xo = fmt.Sprintf("%.2f", p.d/o.d)
			}
			if o, ok := peaks["one-syscall-raw"]; ok && f != "one-syscall-raw" && o.d > 0 {
				xw = fmt.Sprintf("%.2f", p.d/o.d)
			}
			worst, worstO := p.maxD, p.maxO
			for _, x := range r.c.ladder {
				k := key{lay, f, size, x}
				if o, d := med(k, off), med(k, del); o > 1.05*p.d && d < worst {
					worst, worstO = d, o
				}
			}
			verdict := "no collapse"
			switch {
			case p.maxD < 0.9*p.d:
				verdict = "**collapse** at max offered load"
			case worst < 0.9*p.d:
				verdict = "**dip** just above capacity"
			}
			fmt.Printf("| %s | %.3f (%.3f) | %.0f | %s | %s | %s | %s | %.3f (%.1f×) | %.2f | %.2f (%.3f) | %s |\n", label(lay, f), p.d, p.off, p.ns, xr, xo, xw, eq, p.maxO, p.maxO/p.d, p.maxD/p.d, worst/p.d, worstO, verdict)
		}
		fmt.Printf("\nBase = %.3f Mpps (the generator's median max offered rate in these runs).\n", r.ladderBase)
	}
	fmt.Println()
	fmt.Printf("- \"CPU1 ns per delivered pkt\" = CPU 1 busy time (user+system+irq+softirq from /proc/stat, steal excluded) in the window ÷ frames delivered at s0. It is everything CPU 1 did for a frame: in layout A the dut's input receive work too, in both layouts the forwarder, d1's transmit and s0's receive. \"forwarder process ns/pkt\" is the forwarder's own utime+stime (its process group) per frame.\n")
	fmt.Printf("- Idle polling: flowbox and the bare TPACKET loop use the same idle strategy (64 empty passes, then Go-timer sleeps of 10 µs growing to 1 ms); rings.XDPForwardLoopTo spins 1024 empty passes and then blocks in poll(2) (woken by the first frame); one-syscall parks in Go's netpoller (epoll) when its socket is empty, as Click's FromDevice waits in poll(2); one-syscall-raw blocks in recvfrom. Where CPU 1 is saturated (≥ 95%% busy), a forwarder only finds its ring empty when its input's kernel receive work is waiting for the same CPU, so the figure is the cost per frame under load for every forwarder alike. † marks rows where CPU 1 was < 95%% busy: there the figure includes idle waiting, which differs between XDPForwardLoopTo and flowbox, so only the PACKET pair is like for like.\n")
	fmt.Printf("- \"input drops\": g0 tx_dropped (a native-XDP veth's 256-entry ptr_ring full: cheap, on the generator's core) + d0 rx_dropped + input-backlog drops (/proc/net/softnet_stat, machine-wide; RPS lands there). The rest of offered − delivered is lost inside the dut after the kernel's receive work was done: the AF_PACKET ring / XSK RX ring or socket buffer was full.\n")
	fmt.Printf("- \"foreign cores\": CPU used by other processes (not ours, not kernel threads) during the window. Runs repeated because it was > %.2f: %d; kept anyway (3 tries or retry budget %v spent): %d.\n", maxForeign, r.retried, r.c.retryBudget, r.dirty)
	for _, n := range r.notes {
		fmt.Println("- " + n)
	}
	return nil
}

var layoutText = map[string]string{
	"A": "the forwarder's core is the bottleneck — the dut's input receive work runs on CPU 1 (RPS on d0 → CPU 1 for the kernel and AF_PACKET forwarders; native XDP on d0 with its NAPI in a kthread pinned to CPU 1 for the AF_XDP ones and the AF_PACKET ones with XDP load shedding)",
	"B": "default veth — the dut's input receive work (d0 softirq / native-XDP NAPI) runs on the generator's core, CPU 0",
}

func label(layout, f string) string {
	switch f {
	case "kernel":
		if layout == "A" {
			return "(a) kernel IPv4 forwarding (RPS d0→CPU1)"
		}
		return "(a) kernel IPv4 forwarding (all on CPU0)"
	case "bare-xdp":
		return "(b) bare AF_XDP loop"
	case "bare-packet":
		return "(b') bare TPACKET_V2 ring loop"
	case "one-syscall":
		return "(c) one ReadFrom/WriteTo per packet (mdlayher/packet)"
	case "one-syscall-raw":
		return "(c') one raw recvfrom/sendto syscall per packet"
	case "flowbox-xdp":
		return "(d) flowbox METHOD XDP"
	case "bare-packet-shed":
		return "(b'') bare TPACKET_V2 loop + XDP shedding"
	case "flowbox-packet-shed":
		return "(e') flowbox METHOD PACKET, SHED true"
	case "flowbox-packet":
		return "(e) flowbox METHOD PACKET"
	}
	return f
}

func cpuAt(v []cpuDelta, i int) cpuDelta {
	if i < len(v) {
		return v[i]
	}
	return cpuDelta{}
}

func minmax(ss []sample, f func(sample) float64) (lo, hi float64) {
	for i, s := range ss {
		v := f(s)
		if i == 0 || v < lo {
			lo = v
		}
		if i == 0 || v > hi {
			hi = v
		}
	}
	return
}

func cpuModel() string {
	out, err := exec.Command("lscpu").Output()
	if err != nil {
		return "unknown CPU"
	}
	var model, hyp string
	for _, ln := range strings.Split(string(out), "\n") {
		k, v, ok := strings.Cut(ln, ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "Model name":
			model = strings.TrimSpace(v)
		case "Hypervisor vendor":
			hyp = strings.TrimSpace(v)
		}
	}
	if hyp != "" {
		model += " (" + hyp + " VM)"
	}
	return model
}

// waitQuiet waits (up to 2 s) until the machine is below 10% busy, so that
// another session's compile does not land in a window.
func (r *runner) waitQuiet() {
	t0 := time.Now()
	for time.Since(t0) < 2*time.Second {
		a := cpuStat()
		time.Sleep(200 * time.Millisecond)
		b := cpuDeltas(a, cpuStat())
		q := true
		for _, x := range b {
			if x.busy > 0.10 {
				q = false
			}
		}
		if q {
			break
		}
	}
	if w := time.Since(t0) - 200*time.Millisecond; w > 0 {
		r.waited += w
	}
}

// flowboxConfig is the router the benchmark runs in flowbox.
func (r *runner) flowboxConfig(method string, shed bool) string {
	t := r.t
	sniff := ""
	if method == "PACKET" {
		sniff = ", SNIFFER false"
		if shed {
			sniff += ", SHED true"
		}
	}
	if method == "XDP" {
		sniff = ", XDP_MODE native"
	}
	return fmt.Sprintf("src :: FromDevice(%s, METHOD %s, BURST 64%s) -> Strip(14) -> CheckIPHeader -> DecIPTTL -> Unstrip(14) -> EtherRewrite(%s, %s) -> dst :: ToDevice(%s, METHOD %s, BURST 64%s)",
		t.d0, method, sniff, t.d1mac, t.next, t.d1, method, strings.NewReplacer(", SNIFFER false", "", ", SHED true", "").Replace(sniff))
}

const nftBlock = "fbxb_block"

// maxForeign is the CPU (in cores) other processes may use during a window
// before the run is repeated.
const maxForeign = 0.05

// measure runs forwarder f in layout lay and repeats the run (up to
// twice) when other processes used more than maxForeign of a core during
// its window.
func (r *runner) measure(lay, f string, size int, rate float64) (sample, error) {
	for try := 0; ; try++ {
		s, err := r.measure1(lay, f, size, rate)
		if err != nil || s.foreign <= maxForeign {
			return s, err
		}
		if try == 2 || time.Since(r.start) > r.c.retryBudget {
			r.dirty++
			return s, nil
		}
		r.retried++
		logf("%s %s %d B: other processes used %.2f cores during the window: repeating", lay, f, size, s.foreign)
	}
}

func isXDP(f string) bool { return f == "bare-xdp" || f == "flowbox-xdp" }

// hasShed: the forwarder attaches the XDP load-shedding program to d0, so
// d0 receives through native-XDP NAPI like the AF_XDP forwarders; layout A
// then pins that NAPI kthread to CPU 1 as it does for them.
func hasShed(f string) bool { return strings.HasSuffix(f, "-shed") }

// steer sets d0's RPS mask and threaded-NAPI switch (layout A/B
// plumbing). A veth has NAPI only while it has an XDP program (or GRO),
// and writing "threaded" fails without one: switching it off is then
// best effort.
func (t *topo) steer(rps string, threaded int) error {
	if _, err := nsenv.NS(t.dut, "sh", "-c", fmt.Sprintf("echo %s > /sys/class/net/%s/queues/rx-0/rps_cpus", rps, t.d0)); err != nil {
		return err
	}
	_, err := nsenv.NS(t.dut, "sh", "-c", fmt.Sprintf("echo %d > /sys/class/net/%s/threaded", threaded, t.d0))
	if threaded == 0 {
		return nil
	}
	return err
}

// pinNAPI pins d0's NAPI kthreads ("napi/<d0>-<id>", the name cut to 15
// characters) to cpu (only counts them if !pin) and returns how many
// there are.
func (t *topo) pinNAPI(cpu int, pin bool) (int, error) {
	prefix := "napi/" + t.d0
	if len(prefix) > 15 {
		prefix = prefix[:15]
	}
	var set unix.CPUSet
	set.Set(cpu)
	n := 0
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/comm")
		if err != nil || !strings.HasPrefix(strings.TrimSpace(string(b)), prefix) {
			continue
		}
		if !pin {
			n++
			continue
		}
		if err := unix.SchedSetaffinity(pid, &set); err != nil {
			return n, fmt.Errorf("pinning %s (pid %d) to CPU %d: %v", strings.TrimSpace(string(b)), pid, cpu, err)
		}
		n++
	}
	return n, nil
}

// measure1 runs forwarder f in layout lay with frames of size bytes on
// the wire, offered at rate frames/s (0: as fast as the generator goes).
func (r *runner) measure1(lay, f string, size int, rate float64) (s sample, err error) {
	if err := r.ctx.Err(); err != nil {
		return s, err
	}
	t := r.t
	r.waitQuiet()
	var fout, gout strings.Builder
	var fwd *kid
	defer func() {
		// Whatever happened: no child, no program, no leftover setting.
		// Threaded NAPI is switched off while the forwarder (and so the
		// veth's NAPI) still exists: afterwards the switch cannot be
		// written, and a later XDP attach would inherit it.
		t.steer("0", 0)
		t.stop(fwd)
		for _, x := range [][2]string{{t.gen, t.g0}, {t.dut, t.d0}, {t.dut, t.d1}} {
			nsenv.IP("-n", x[0], "link", "set", "dev", x[1], "xdp", "off")
			nsenv.IP("-n", x[0], "link", "set", "dev", x[1], "xdpgeneric", "off")
		}
		t.steer("0", 0)
		switch f {
		case "kernel":
			nsenv.NS(t.dut, "sysctl", "-qw", "net.ipv4.ip_forward=0")
		case "one-syscall", "one-syscall-raw":
			nsenv.NS(t.dut, "nft", "delete", "table", "netdev", nftBlock)
		}
		if err != nil && fout.Len() > 0 {
			err = fmt.Errorf("%v\nforwarder output:\n%s\ngenerator output:\n%s", err, fout.String(), gout.String())
		}
	}()
	// Layout A, non-XDP forwarders: d0's receive (netif_rx backlog, the
	// AF_PACKET taps, the nft ingress drop, the kernel's forward path) is
	// steered to CPU 1 by RPS. XDP forwarders: see pinNAPI below.
	rps := "0"
	shed := hasShed(f)
	if lay == "A" && !isXDP(f) && !shed {
		rps = "2"
	}
	if err := t.steer(rps, 0); err != nil {
		return s, err
	}
	dur := "30s" // hard bound for every child
	switch f {
	case "kernel":
		if _, err := nsenv.NS(t.dut, "sysctl", "-qw", "net.ipv4.ip_forward=1"); err != nil {
			return s, err
		}
	case "bare-xdp", "bare-packet", "bare-packet-shed", "one-syscall", "one-syscall-raw":
		mode := map[string]string{"bare-xdp": "xdp", "bare-packet": "ring", "bare-packet-shed": "ring", "one-syscall": "lib", "one-syscall-raw": "pkt"}[f]
		if strings.HasPrefix(f, "one-syscall") {
			rule := fmt.Sprintf("table netdev %s { chain in { type filter hook ingress device %s priority 0; policy drop; }; }", nftBlock, t.d0)
			if _, err := nsenv.NS(t.dut, "nft", rule); err != nil {
				return s, err
			}
		}
		fwd, err = t.start(t.dut, 1, &fout, r.self, "fwd", "-mode", mode, "-xdpmode", "native", "-shed="+strconv.FormatBool(shed), "-in", t.d0, "-out", t.d1, "-dst", t.next.String(), "-burst", "64", "-dur", dur)
	case "flowbox-xdp", "flowbox-packet", "flowbox-packet-shed":
		method := strings.ToUpper(strings.TrimSuffix(strings.TrimPrefix(f, "flowbox-"), "-shed"))
		// flowbox pins its worker inside the inherited affinity mask:
		// under taskset -c 1 it stays on CPU 1.
		fwd, err = t.start(t.dut, 1, &fout, "timeout", "--foreground", "-s", "INT", "-k", "5", dur, r.c.flowbox, "run", "-e", r.flowboxConfig(method, shed),
			"-h", "src.count", "-h", "src.kernel_drops", "-h", "dst.count", "-h", "dst.drop_reasons")
	}
	if err != nil {
		return s, err
	}
	gen, err := t.start(t.gen, 0, &gout, r.self, "gen", "-dev", t.g0, "-dst", t.d0mac.String(), "-size", strconv.Itoa(size-4),
		"-rate", strconv.FormatFloat(rate, 'f', 0, 64), "-dur", dur)
	if err != nil {
		return s, err
	}
	defer t.stop(gen)

	// Wait until frames cross the dut (the forwarder is up).
	sinkRX := func() uint64 {
		m, _ := devCounters(t.sink)
		return m[t.s0][0]
	}
	base := sinkRX()
	deadline := time.Now().Add(10 * time.Second)
	for sinkRX() < base+1000 {
		if time.Now().After(deadline) {
			return s, fmt.Errorf("%s, %d B: no frame reached the sink within 10 s", f, size)
		}
		if err := r.ctx.Err(); err != nil {
			return s, err
		}
		if fwd != nil && fwd.exited() {
			return s, fmt.Errorf("%s exited early", f)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if isXDP(f) || shed {
		// Native XDP on a veth receives through NAPI, which by default
		// runs in softirq on the CPU that transmitted into the veth (the
		// generator's): layout B. For layout A, threaded NAPI moves it
		// into a kthread, pinned here to CPU 1. The NAPI instance exists
		// once the forwarder has attached its program, so this comes
		// after the first frames.
		threaded := 0
		if lay == "A" {
			threaded = 1
		}
		if err := t.steer("0", threaded); err != nil {
			return s, err
		}
		time.Sleep(50 * time.Millisecond)
		n, err := t.pinNAPI(1, lay == "A")
		if err != nil {
			return s, err
		}
		if lay == "A" && n == 0 {
			return s, fmt.Errorf("%s layout A: no NAPI kthread for %s after enabling threaded NAPI (native XDP not attached?)", f, t.d0)
		}
		if lay == "B" {
			if v, _ := nsenv.NS(t.dut, "cat", "/sys/class/net/"+t.d0+"/threaded"); strings.TrimSpace(v) != "0" {
				return s, fmt.Errorf("%s layout B: %s still has threaded NAPI (%q)", f, t.d0, strings.TrimSpace(v))
			}
		}
	}
	time.Sleep(r.c.warm)
	snap := func() (g, d, k map[string][4]uint64, c []cpuTimes, pt, sn uint64, at time.Time) {
		at = time.Now()
		sn = softnetDrops()
		g, _ = devCounters(t.gen)
		d, _ = devCounters(t.dut)
		k, _ = devCounters(t.sink)
		c = cpuStat()
		if fwd != nil {
			pt = groupTicks(fwd.cmd.Process.Pid)
		}
		return
	}
	ours := t.ourGroups()
	p0 := procTicks(ours)
	g0, d0, k0, c0, pt0, sn0, t0 := snap()
	select {
	case <-time.After(r.c.window):
	case <-r.ctx.Done():
		return s, r.ctx.Err()
	}
	g1, d1, k1, c1, pt1, sn1, t1 := snap()
	el := t1.Sub(t0).Seconds()
	s.foreign = foreignCores(p0, procTicks(ours), el)
	mpps := func(a, b map[string][4]uint64, dev string, i int) float64 {
		return float64(b[dev][i]-a[dev][i]) / el / 1e6
	}
	s.offered = mpps(g0, g1, t.g0, 2) + mpps(g0, g1, t.g0, 3)
	s.delivered = mpps(k0, k1, t.s0, 0)
	s.d0drop = mpps(d0, d1, t.d0, 1) + mpps(g0, g1, t.g0, 3) + float64(sn1-sn0)/el/1e6
	s.cpu = cpuDeltas(c0, c1)
	if pkts := float64(k1[t.s0][0] - k0[t.s0][0]); pkts > 0 {
		s.c1ns = cpuAt(s.cpu, 1).busySec * 1e9 / pkts
		s.procNs = float64(pt1-pt0) / 100 * 1e9 / pkts
	}
	if err := t.stop(gen); err != nil && r.ctx.Err() == nil {
		return s, fmt.Errorf("generator: %v\n%s", err, gout.String())
	}
	t.steer("0", 0)
	ferr := t.stop(fwd)
	fwd = nil
	c0b, c1b := cpuAt(s.cpu, 0), cpuAt(s.cpu, 1)
	if r.c.verbose || (ferr != nil && r.ctx.Err() == nil) {
		logf("%s %s %dB rate %.0f: offered %.3f delivered %.3f input drops %.3f cpu %.2f/%.2f (cpu1 usr %.2f sys %.2f si %.2f) %.0f ns/pkt (process %.0f); forwarder exit %v\n%s%s",
			lay, f, size, rate, s.offered, s.delivered, s.d0drop, c0b.busy, c1b.busy, c1b.usr, c1b.sys, c1b.si, s.c1ns, s.procNs, ferr, fout.String(), gout.String())
	} else {
		logf("%s %-15s %4d B offered %.3f delivered %.3f Mpps (cpu %.2f/%.2f, %.0f ns/pkt on CPU1, foreign %.2f)", lay, f, size, s.offered, s.delivered, c0b.busy, c1b.busy, s.c1ns, s.foreign)
	}
	_ = os.Stderr.Sync()
	return s, nil
}

// softnetDrops is the number of frames dropped because a CPU's input
// backlog (netdev_max_backlog; RPS lands here) was full, summed over CPUs
// (/proc/net/softnet_stat, second column, hex). It is machine-wide.
func softnetDrops() uint64 {
	b, _ := os.ReadFile("/proc/net/softnet_stat")
	var n uint64
	for _, ln := range strings.Split(string(b), "\n") {
		f := strings.Fields(ln)
		if len(f) > 1 {
			v, _ := strconv.ParseUint(f[1], 16, 64)
			n += v
		}
	}
	return n
}

func repsText(layouts []string, reps map[string]int) string {
	var l []string
	for _, lay := range layouts {
		l = append(l, fmt.Sprintf("%d (layout %s)", reps[lay], lay))
	}
	return strings.Join(l, " / ")
}
