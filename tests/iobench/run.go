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
}

// sample is one measurement (rates in Mpps).
type sample struct {
	offered, delivered float64
	d0drop             float64 // frames the dut's input lost (d0 rx_dropped + g0 tx_dropped)
	cpu                []float64
	foreign            float64 // cores used by other processes in the window
}

type key struct {
	fwd  string
	size int
	rate float64 // offered target, 0 = max
}

func (r *runner) all(start time.Time) error {
	r.start = start
	res := map[key][]sample{}
	var order []key
	add := func(k key, s sample) {
		if _, ok := res[k]; !ok {
			order = append(order, k)
		}
		res[k] = append(res[k], s)
	}
	logf("topology %s / %s / %s up; %d forwarders x %v x %d runs", r.t.gen, r.t.dut, r.t.sink, len(r.c.fwds), r.c.sizes, r.c.reps)
	// Repetitions outermost: slow drifts of the (shared) machine spread
	// over all forwarders instead of biasing one.
	for rep := 0; rep < r.c.reps; rep++ {
		for _, size := range r.c.sizes {
			for _, f := range r.c.fwds {
				s, err := r.measure(f, size, 0)
				if err != nil {
					return err
				}
				add(key{f, size, 0}, s)
			}
		}
	}
	med := func(k key, f func(sample) float64) float64 {
		var v []float64
		for _, s := range res[k] {
			v = append(v, f(s))
		}
		return median(v)
	}
	del := func(s sample) float64 { return s.delivered }
	off := func(s sample) float64 { return s.offered }

	var ov []key
	if r.c.overload {
		size := r.c.sizes[0]
		for rep := 0; rep < r.c.reps; rep++ {
			for _, f := range []string{"flowbox-xdp", "flowbox-packet"} {
				if !contains(r.c.fwds, f) {
					continue
				}
				capa := med(key{f, size, 0}, del)
				for _, x := range []float64{0.8, 1.5} {
					k := key{f, size, x}
					s, err := r.measure(f, size, x*capa*1e6)
					if err != nil {
						return err
					}
					if rep == 0 {
						ov = append(ov, k)
					}
					res[k] = append(res[k], s)
				}
			}
		}
	}

	// The table.
	uname, _ := exec.Command("uname", "-r").Output()
	model := cpuModel()
	fmt.Printf("\n## flowbox on-wire benchmark (make bench-io)\n\n")
	fmt.Printf("%s, %s, %d vCPU, kernel %s; Go %s; %d runs per row (median), %v warm-up + %v window each; generator AF_XDP TX on CPU 0, forwarder on CPU 1; total run %v (waited %v for a quiet machine).\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), model, runtime.NumCPU(), strings.TrimSpace(string(uname)), runtime.Version(),
		r.c.reps, r.c.warm, r.c.window, time.Since(start).Round(time.Second), r.waited.Round(100*time.Millisecond))
	fmt.Printf("| forwarder | frame | offered Mpps | delivered Mpps [min–max] | × its bare loop | × one-syscall | veth drops Mpps (g0 tx + d0 rx) | CPU0 / CPU1 busy | Mpps per busy CPU1 | foreign cores |\n")
	fmt.Printf("|---|---|---|---|---|---|---|---|---|---|\n")
	bareOf := map[string]string{"bare-xdp": "bare-xdp", "flowbox-xdp": "bare-xdp", "bare-packet": "bare-packet", "flowbox-packet": "bare-packet"}
	for _, size := range r.c.sizes {
		for _, f := range r.c.fwds {
			k := key{f, size, 0}
			d := med(k, del)
			lo, hi := minmax(res[k], del)
			ratio := func(ref string) string {
				rk := key{ref, size, 0}
				if _, ok := res[rk]; !ok || ref == "" {
					return "–"
				}
				if rd := med(rk, del); rd > 0 {
					return fmt.Sprintf("%.2f", d/rd)
				}
				return "–"
			}
			c0 := med(k, func(s sample) float64 { return at(s.cpu, 0) })
			c1 := med(k, func(s sample) float64 { return at(s.cpu, 1) })
			fmt.Printf("| %s | %d B | %.3f | **%.3f** [%.3f–%.3f] | %s | %s | %.3f | %.2f / %.2f | %.2f | %.2f |\n",
				label(f), size, med(k, off), d, lo, hi, ratio(bareOf[f]), ratio("one-syscall"),
				med(k, func(s sample) float64 { return s.d0drop }), c0, c1,
				med(k, func(s sample) float64 { return s.delivered / max(at(s.cpu, 1), 0.01) }),
				med(k, func(s sample) float64 { return s.foreign }))
		}
	}
	if len(ov) > 0 {
		fmt.Printf("\nOffered load fixed relative to capacity C (= the median delivered rate at max offered load above), %d B:\n\n", r.c.sizes[0])
		fmt.Printf("| forwarder | target | offered Mpps | delivered Mpps [min–max] | delivered / C | delivered / offered |\n|---|---|---|---|---|---|\n")
		for _, k := range ov {
			capa := med(key{k.fwd, k.size, 0}, del)
			d := med(k, del)
			lo, hi := minmax(res[k], del)
			o := med(k, off)
			fmt.Printf("| %s | %.1f × C | %.3f (%.2f × C) | %.3f [%.3f–%.3f] | %.2f | %.2f |\n",
				label(k.fwd), k.rate, o, o/capa, d, lo, hi, d/capa, d/o)
		}
	}
	fmt.Println()
	fmt.Printf("\"foreign cores\": CPU used by other processes (not ours, not kernel threads) during the window. Runs repeated because it was > %.2f: %d; kept anyway (3 tries or retry budget %v spent): %d.\n", maxForeign, r.retried, r.c.retryBudget, r.dirty)
	for _, n := range r.notes {
		fmt.Println("- " + n)
	}
	return nil
}

func label(f string) string {
	switch f {
	case "kernel":
		return "(a) kernel IPv4 forwarding (RPS d0→CPU1)"
	case "bare-xdp":
		return "(b) bare AF_XDP loop"
	case "bare-packet":
		return "(b') bare TPACKET_V2 ring loop"
	case "one-syscall":
		return "(c) one recvfrom/sendto per packet"
	case "flowbox-xdp":
		return "(d) flowbox METHOD XDP"
	case "flowbox-packet":
		return "(e) flowbox METHOD PACKET"
	}
	return f
}

func at(v []float64, i int) float64 {
	if i < len(v) {
		return v[i]
	}
	return 0
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
		b := busy(a, cpuStat())
		q := true
		for _, x := range b {
			if x > 0.10 {
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
func (r *runner) flowboxConfig(method string) string {
	t := r.t
	sniff := ""
	if method == "PACKET" {
		sniff = ", SNIFFER false"
	}
	return fmt.Sprintf("src :: FromDevice(%s, METHOD %s, BURST 64%s) -> Strip(14) -> CheckIPHeader -> DecIPTTL -> Unstrip(14) -> EtherRewrite(%s, %s) -> dst :: ToDevice(%s, METHOD %s, BURST 64)",
		t.d0, method, sniff, t.d1mac, t.next, t.d1, method)
}

const nftBlock = "fbxb_block"

// maxForeign is the CPU (in cores) other processes may use during a window
// before the run is repeated.
const maxForeign = 0.05

// measure runs forwarder f and repeats the run (up to twice) when other
// processes used more than maxForeign of a core during its window.
func (r *runner) measure(f string, size int, rate float64) (sample, error) {
	for try := 0; ; try++ {
		s, err := r.measure1(f, size, rate)
		if err != nil || s.foreign <= maxForeign {
			return s, err
		}
		if try == 2 || time.Since(r.start) > r.c.retryBudget {
			r.dirty++
			return s, nil
		}
		r.retried++
		logf("%s %d B: other processes used %.2f cores during the window: repeating", f, size, s.foreign)
	}
}

// measure1 runs forwarder f with frames of size bytes on the wire, offered
// at rate frames/s (0: as fast as the generator goes).
func (r *runner) measure1(f string, size int, rate float64) (s sample, err error) {
	if err := r.ctx.Err(); err != nil {
		return s, err
	}
	t := r.t
	r.waitQuiet()
	var fout, gout strings.Builder
	var fwd *kid
	defer func() {
		// Whatever happened: no child, no program, no leftover setting.
		t.stop(fwd)
		for _, x := range [][2]string{{t.gen, t.g0}, {t.dut, t.d0}, {t.dut, t.d1}} {
			nsenv.IP("-n", x[0], "link", "set", "dev", x[1], "xdp", "off")
			nsenv.IP("-n", x[0], "link", "set", "dev", x[1], "xdpgeneric", "off")
		}
		switch f {
		case "kernel":
			nsenv.NS(t.dut, "sysctl", "-qw", "net.ipv4.ip_forward=0")
			nsenv.NS(t.dut, "sh", "-c", "echo 0 > /sys/class/net/"+t.d0+"/queues/rx-0/rps_cpus")
		case "one-syscall":
			nsenv.NS(t.dut, "nft", "delete", "table", "netdev", nftBlock)
		}
		if err != nil && fout.Len() > 0 {
			err = fmt.Errorf("%v\nforwarder output:\n%s\ngenerator output:\n%s", err, fout.String(), gout.String())
		}
	}()
	dur := "30s" // hard bound for every child
	switch f {
	case "kernel":
		if _, err := nsenv.NS(t.dut, "sysctl", "-qw", "net.ipv4.ip_forward=1"); err != nil {
			return s, err
		}
		// The dut's core does the forwarding: d0's receive (and so the
		// whole forward path) is steered to CPU 1.
		if _, err := nsenv.NS(t.dut, "sh", "-c", "echo 2 > /sys/class/net/"+t.d0+"/queues/rx-0/rps_cpus"); err != nil {
			return s, err
		}
	case "bare-xdp", "bare-packet", "one-syscall":
		mode := map[string]string{"bare-xdp": "xdp", "bare-packet": "ring", "one-syscall": "pkt"}[f]
		if f == "one-syscall" {
			rule := fmt.Sprintf("table netdev %s { chain in { type filter hook ingress device %s priority 0; policy drop; }; }", nftBlock, t.d0)
			if _, err := nsenv.NS(t.dut, "nft", rule); err != nil {
				return s, err
			}
		}
		fwd, err = t.start(t.dut, 1, &fout, r.self, "fwd", "-mode", mode, "-in", t.d0, "-out", t.d1, "-dst", t.next.String(), "-burst", "64", "-dur", dur)
	case "flowbox-xdp", "flowbox-packet":
		method := strings.ToUpper(strings.TrimPrefix(f, "flowbox-"))
		// --pin=false: flowbox's own pinning puts worker 0 on CPU 0
		// (0 mod NumCPU); taskset keeps it on CPU 1.
		fwd, err = t.start(t.dut, 1, &fout, "timeout", "--foreground", "-s", "INT", "-k", "5", dur, r.c.flowbox, "run", "--pin=false", "-e", r.flowboxConfig(method),
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
	time.Sleep(r.c.warm)
	snap := func() (g, d, k map[string][4]uint64, c [][2]uint64, at time.Time) {
		at = time.Now()
		g, _ = devCounters(t.gen)
		d, _ = devCounters(t.dut)
		k, _ = devCounters(t.sink)
		c = cpuStat()
		return
	}
	ours := t.ourGroups()
	p0 := procTicks(ours)
	g0, d0, k0, c0, t0 := snap()
	select {
	case <-time.After(r.c.window):
	case <-r.ctx.Done():
		return s, r.ctx.Err()
	}
	g1, d1, k1, c1, t1 := snap()
	el := t1.Sub(t0).Seconds()
	s.foreign = foreignCores(p0, procTicks(ours), el)
	mpps := func(a, b map[string][4]uint64, dev string, i int) float64 {
		return float64(b[dev][i]-a[dev][i]) / el / 1e6
	}
	s.offered = mpps(g0, g1, t.g0, 2) + mpps(g0, g1, t.g0, 3)
	s.delivered = mpps(k0, k1, t.s0, 0)
	s.d0drop = mpps(d0, d1, t.d0, 1) + mpps(g0, g1, t.g0, 3)
	s.cpu = busy(c0, c1)
	if err := t.stop(gen); err != nil && r.ctx.Err() == nil {
		return s, fmt.Errorf("generator: %v\n%s", err, gout.String())
	}
	ferr := t.stop(fwd)
	fwd = nil
	if r.c.verbose || (ferr != nil && r.ctx.Err() == nil) {
		logf("%s %dB rate %.0f: offered %.3f delivered %.3f input drops %.3f cpu %.2f; forwarder exit %v\n%s%s",
			f, size, rate, s.offered, s.delivered, s.d0drop, s.cpu, ferr, fout.String(), gout.String())
	} else {
		logf("%-15s %4d B offered %.3f delivered %.3f Mpps (cpu %.2f/%.2f, foreign %.2f)", f, size, s.offered, s.delivered, at(s.cpu, 0), at(s.cpu, 1), s.foreign)
	}
	_ = os.Stderr.Sync()
	return s, nil
}
