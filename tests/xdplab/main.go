//go:build linux

// Command xdplab measures METHOD XDP on veth: an AF_XDP generator on one
// core pushes 60-byte IPv4/UDP frames g0→d0, a forwarder on the other core
// moves them d0→d1 (TTL-1, checksum, MAC rewrite) and s0 drops them (the
// next-hop MAC is not its own); delivered = s0 rx_packets.
//
//	xdplab -dut bare  # rings.XDPForwardLoop (the user-space limit)
//	xdplab -dut port  # rings XDP Port RecvBatch/SendBatch + the same rewrite
//	xdplab -dut asavie # the same loop on asavie/xdp v0.3.3's own rings
//	xdplab -dut none  # generator only (d0 has no program; kernel drops)
//
// It needs root; it creates and deletes a namespace fbxxlab<random>.
package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"flowbox/appliance/packet"
	"flowbox/appliance/rings"
)

func ip(args ...string) {
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "ip %s: %v: %s", strings.Join(args, " "), err, out)
		os.Exit(1)
	}
}

func main() {
	dut := flag.String("dut", "bare", "forwarder: bare, port, asavie or none")
	mode := flag.String("xdpmode", "", "XDP mode for the forwarder: native, generic or empty (auto)")
	dur := flag.Duration("dur", 4*time.Second, "measurement window")
	warm := flag.Duration("warm", 1500*time.Millisecond, "warm-up")
	flag.Parse()

	var rb [3]byte
	_, _ = rand.Read(rb[:])
	sfx := hex.EncodeToString(rb[:])
	ns := "fbxxlab" + sfx
	g0, d0, d1, s0 := "fbxx"+sfx+"g0", "fbxx"+sfx+"d0", "fbxx"+sfx+"d1", "fbxx"+sfx+"s0"
	ip("netns", "add", ns)
	defer exec.Command("ip", "netns", "del", ns).Run()
	ip("-n", ns, "link", "add", g0, "type", "veth", "peer", "name", d0)
	ip("-n", ns, "link", "add", d1, "type", "veth", "peer", "name", s0)
	ip("-n", ns, "addr", "add", "10.252.200.1/24", "dev", d1)
	ip("-n", ns, "addr", "add", "10.252.200.2/24", "dev", s0)
	for _, d := range []string{"lo", g0, d0, d1, s0} {
		ip("-n", ns, "link", "set", d, "up")
	}
	ip("-n", ns, "neigh", "replace", "10.252.200.99", "lladdr", "02:fb:fb:00:00:99", "dev", d1, "nud", "permanent")

	h, err := netns.GetFromName(ns)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	enter := func(cpu int) {
		runtime.LockOSThread()
		if err := netns.Set(h); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		var set unix.CPUSet
		set.Set(cpu)
		_ = unix.SchedSetaffinity(0, &set)
	}
	enter(1)
	d0i, _ := net.InterfaceByName(d0)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var genErr, dutErr error
	var forwarded uint64
	var genSent atomic.Uint64
	var dutCPU time.Duration

	// Generator on CPU0: AF_XDP TX (copy mode) through a TX-only port.
	started := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		enter(0)
		p, err := rings.Open(g0, rings.MethodXDP, rings.Options{})
		close(started)
		if err != nil {
			genErr = err
			return
		}
		defer p.Close()
		pool := packet.NewPool(nil)
		tmpl := frame(d0i.HardwareAddr)
		var b packet.Batch
		for ctx.Err() == nil {
			for !b.Full() {
				b.Append(pool.NewFrom(tmpl))
			}
			n, _ := p.SendBatch(pool, &b)
			genSent.Add(uint64(n))
		}
	}()
	<-started

	wg.Add(1)
	go func() {
		defer wg.Done()
		enter(1)
		r0 := threadCPU()
		defer func() { dutCPU = threadCPU() - r0 }()
		opt := rings.Options{XDPMode: *mode}
		switch *dut {
		case "bare":
			forwarded, dutErr = rings.XDPForwardLoop(ctx, d0, d1, opt)
		case "port":
			forwarded, dutErr = portLoop(ctx, d0, d1, opt)
		case "asavie":
			forwarded, dutErr = asavieLoop(ctx, d0, d1)
		case "none":
			<-ctx.Done()
		default:
			dutErr = fmt.Errorf("unknown -dut %q", *dut)
		}
	}()

	time.Sleep(*warm)
	c0 := counters()
	cpu0 := cpuBusy()
	t0 := time.Now()
	time.Sleep(*dur)
	c1 := counters()
	cpu1 := cpuBusy()
	el := time.Since(t0).Seconds()
	cancel()
	wg.Wait()
	if genErr != nil || dutErr != nil {
		fmt.Fprintln(os.Stderr, "generator:", genErr, "forwarder:", dutErr)
		os.Exit(1)
	}
	rate := func(dev, f string) float64 { return float64(c1[dev+f]-c0[dev+f]) / el / 1e6 }
	fmt.Printf("dut=%s xdpmode=%q window=%.1fs\n", *dut, *mode, el)
	fmt.Printf("  generator g0 tx        %.3f Mpps (g0 tx_dropped %.3f)\n", rate(g0, ".tx"), rate(g0, ".txdrop"))
	fmt.Printf("  d0 rx                  %.3f Mpps (d0 rx_dropped %.3f)\n", rate(d0, ".rx"), rate(d0, ".rxdrop"))
	fmt.Printf("  delivered s0 rx        %.3f Mpps\n", rate(s0, ".rx"))
	for i := range cpu0 {
		fmt.Printf("  cpu%d busy             %.2f\n", i, busyFrac(cpu0[i], cpu1[i]))
	}
	fmt.Printf("  forwarded (total)      %d\n", forwarded)
	if forwarded > 0 {
		per := dutCPU / time.Duration(forwarded)
		fmt.Printf("  forwarder thread CPU   %v for %d frames: %v/frame = %.3f Mpps per busy core\n",
			dutCPU.Round(time.Millisecond), forwarded, per, 1e3/float64(per.Nanoseconds()))
	}
}

// frame is a 60-byte Ethernet/IPv4/UDP frame to dst.
func frame(dst net.HardwareAddr) []byte {
	f := make([]byte, 60)
	copy(f, dst)
	copy(f[6:], []byte{0x02, 0xfb, 0, 0, 0, 1})
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ipb := f[14:34]
	ipb[0] = 0x45
	binary.BigEndian.PutUint16(ipb[2:], 46)
	ipb[8], ipb[9] = 64, 17
	copy(ipb[12:], []byte{10, 252, 100, 1})
	copy(ipb[16:], []byte{10, 252, 201, 2})
	var s uint32
	for i := 0; i < 20; i += 2 {
		s += uint32(binary.BigEndian.Uint16(ipb[i:]))
	}
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	binary.BigEndian.PutUint16(ipb[10:], ^uint16(s))
	binary.BigEndian.PutUint16(f[34:], 1000)
	binary.BigEndian.PutUint16(f[36:], 2000)
	binary.BigEndian.PutUint16(f[38:], 26)
	return f
}

// portLoop forwards through the Port API: what FromDevice → router →
// ToDevice costs without the element runtime in between.
func portLoop(ctx context.Context, in, out string, opt rings.Options) (uint64, error) {
	pi, err := rings.Open(in, rings.MethodXDP, opt)
	if err != nil {
		return 0, err
	}
	defer pi.Close()
	po, err := rings.Open(out, rings.MethodXDP, opt)
	if err != nil {
		return 0, err
	}
	defer po.Close()
	oi, _ := net.InterfaceByName(out)
	src := oi.HardwareAddr
	dst := net.HardwareAddr{0x02, 0xfb, 0xfb, 0, 0, 0x99}
	waiter, _ := pi.(interface {
		Wait(time.Duration) (bool, error)
	})
	pool := packet.NewPool(nil)
	var b, o packet.Batch
	var fwd uint64
	for ctx.Err() == nil {
		n, err := pi.RecvBatch(pool, &b, packet.MaxBatch)
		if err != nil {
			return fwd, err
		}
		if n == 0 {
			if waiter != nil {
				_, _ = waiter.Wait(10 * time.Millisecond)
			}
			continue
		}
		for _, p := range b.Packets() {
			if route(p.Writable(pool), src, dst) {
				o.Append(p)
			} else {
				pool.Free(p)
			}
		}
		b.Reset()
		s, _ := po.SendBatch(pool, &o)
		fwd += uint64(s)
	}
	return fwd, nil
}

func route(f []byte, src, dst net.HardwareAddr) bool {
	if len(f) < 34 || f[12] != 8 || f[13] != 0 || f[14]>>4 != 4 {
		return false
	}
	ipb := f[14:]
	ihl := int(ipb[0]&15) * 4
	if ihl < 20 || len(ipb) < ihl {
		return false
	}
	var s uint32
	for i := 0; i < ihl; i += 2 {
		s += uint32(binary.BigEndian.Uint16(ipb[i:]))
	}
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	if s != 0xffff || ipb[8] <= 1 {
		return false
	}
	old := uint32(ipb[8])<<8 | uint32(ipb[9])
	ipb[8]--
	sum := uint32(^binary.BigEndian.Uint16(ipb[10:])) + (^old & 0xffff) + (old - 0x100)
	sum = sum&0xffff + sum>>16
	sum = sum&0xffff + sum>>16
	binary.BigEndian.PutUint16(ipb[10:], ^uint16(sum))
	copy(f[0:6], dst)
	copy(f[6:12], src)
	return true
}

// counters reads /proc/thread-self/net/dev (this thread is in the lab
// namespace).
func counters() map[string]uint64 {
	m := map[string]uint64{}
	b, err := os.ReadFile("/proc/thread-self/net/dev")
	if err != nil {
		return m
	}
	for _, ln := range strings.Split(string(b), "\n") {
		name, rest, ok := strings.Cut(ln, ":")
		if !ok {
			continue
		}
		var v [16]uint64
		fmt.Sscan(rest, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10], &v[11], &v[12], &v[13], &v[14], &v[15])
		n := strings.TrimSpace(name)
		m[n+".rx"], m[n+".rxdrop"], m[n+".tx"], m[n+".txdrop"] = v[1], v[3], v[9], v[11]
	}
	return m
}

// threadCPU is this OS thread's user+system CPU time.
func threadCPU() time.Duration {
	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_THREAD, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type cpuTimes struct{ idle, total uint64 }

func cpuBusy() []cpuTimes {
	b, _ := os.ReadFile("/proc/stat")
	var out []cpuTimes
	for _, ln := range strings.Split(string(b), "\n") {
		f := strings.Fields(ln)
		if len(f) < 8 || !strings.HasPrefix(f[0], "cpu") || f[0] == "cpu" {
			continue
		}
		var c cpuTimes
		for i, x := range f[1:] {
			var v uint64
			fmt.Sscan(x, &v)
			c.total += v
			if i == 3 || i == 4 { // idle, iowait
				c.idle += v
			}
		}
		out = append(out, c)
	}
	return out
}

func busyFrac(a, b cpuTimes) float64 {
	dt := float64(b.total - a.total)
	if dt == 0 {
		return 0
	}
	return 1 - float64(b.idle-a.idle)/dt
}
