//go:build linux

package main

import (
	"context"
	"encoding/binary"
	"flag"
	"flowbox/appliance/proto"
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"
	"unsafe"

	mdpacket "github.com/mdlayher/packet"
	"golang.org/x/sys/unix"

	"flowbox/appliance/packet"
	"flowbox/appliance/rings"
)

// The child roles run as separate processes (re-executions of this binary
// under `ip netns exec NS taskset -c CPU`), so that the generator, the bare
// forwarders and flowbox all run the same way: one process, pinned to one
// core, GOMAXPROCS=1. Each role stops on SIGINT/SIGTERM or after -dur, and
// closes its ports (detaching XDP programs) on the way out.

func roleContext(dur time.Duration) (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(ctx, dur)
	return ctx, func() { cancel(); stop() }
}

// runGen is the generator: AF_XDP TX (copy mode) on dev through a TX-only
// rings XDP port, frames of -size bytes (without FCS), at max rate or paced
// to -rate frames/s in bursts of 32.
func runGen(args []string) error {
	fs := flag.NewFlagSet("gen", flag.ExitOnError)
	dev := fs.String("dev", "", "device")
	dst := fs.String("dst", "", "destination MAC")
	size := fs.Int("size", 60, "frame size without FCS")
	rate := fs.Float64("rate", 0, "frames/s (0: as fast as possible)")
	dur := fs.Duration("dur", 15*time.Second, "hard time bound")
	fs.Parse(args)
	runtime.LockOSThread()
	ctx, cancel := roleContext(*dur)
	defer cancel()
	dmac, err := net.ParseMAC(*dst)
	if err != nil {
		return err
	}
	ifi, err := net.InterfaceByName(*dev)
	if err != nil {
		return err
	}
	p, err := rings.Open(*dev, rings.MethodXDP, rings.Options{Burst: packet.MaxBatch})
	if err != nil {
		return err
	}
	defer p.Close()
	tmpl := buildFrame(*size, dmac, ifi.HardwareAddr)
	pool := packet.NewPool(nil)
	var b packet.Batch
	const burst = 32
	var interval time.Duration
	if *rate > 0 {
		interval = time.Duration(float64(burst) / *rate * 1e9)
	}
	next := time.Now()
	var sent uint64
	for i := 0; ; i++ {
		if i&63 == 0 && ctx.Err() != nil {
			break
		}
		if interval > 0 {
			now := time.Now()
			for now.Before(next) {
				now = time.Now()
			}
			next = next.Add(interval)
			if now.Sub(next) > 5*time.Millisecond {
				next = now // fell behind: do not burst to catch up
			}
		}
		for b.N < burst {
			b.Append(pool.NewFrom(tmpl))
		}
		n, _ := p.SendBatch(pool, &b)
		sent += uint64(n)
	}
	fmt.Printf("gen sent %d\n", sent)
	return nil
}

// buildFrame is an Ethernet/IPv4/UDP frame of size bytes (FCS not
// included) from 10.253.1.1 to 10.253.2.99, TTL 64.
func buildFrame(size int, dst, src net.HardwareAddr) []byte {
	f := make([]byte, size)
	copy(f, dst)
	copy(f[6:], src)
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:34]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(size-14))
	ip[8], ip[9] = 64, 17
	copy(ip[12:], []byte{10, 253, 1, 1})
	copy(ip[16:], []byte{10, 253, 2, 99})
	binary.BigEndian.PutUint16(ip[10:], proto.Checksum(ip))
	binary.BigEndian.PutUint16(f[34:], 1000)
	binary.BigEndian.PutUint16(f[36:], 2000)
	binary.BigEndian.PutUint16(f[38:], uint16(size-34))
	for i := 42; i < size; i++ {
		f[i] = byte(i)
	}
	return f
}

// runFwd runs one bare forwarder from -in to -out, rewriting the
// destination MAC to -dst and the source to -out's MAC.
//
//	xdp:  rings.XDPForwardLoopTo (AF_XDP, rx UMEM -> tx UMEM copy)
//	ring: rings PACKET ports (TPACKET_V2 RX ring, TX ring + one kick per
//	      batch) driven by RecvBatch/SendBatch, no element runtime
//	lib:  one ReadFrom and one WriteTo per frame on mdlayher/packet
//	      sockets (what Click's FromDevice/ToDevice do; io-limits' forwarder)
//	pkt:  one raw recvfrom and one sendto syscall per frame on plain
//	      AF_PACKET sockets, blocking, without Go's netpoller
func runFwd(args []string) error {
	fs := flag.NewFlagSet("fwd", flag.ExitOnError)
	mode := fs.String("mode", "xdp", "xdp, ring, lib or pkt")
	in := fs.String("in", "", "input device")
	out := fs.String("out", "", "output device")
	dst := fs.String("dst", "", "next-hop MAC")
	burst := fs.Int("burst", 64, "batch size")
	shed := fs.Bool("shed", false, "-mode ring: XDP load shedding on the input (rings.Options.Shed)")
	xdpMode := fs.String("xdpmode", "native", "XDP attach mode for -mode xdp (native, generic)")
	dur := fs.Duration("dur", 30*time.Second, "hard time bound")
	fs.Parse(args)
	runtime.LockOSThread()
	ctx, cancel := roleContext(*dur)
	defer cancel()
	dmac, err := net.ParseMAC(*dst)
	if err != nil {
		return err
	}
	oi, err := net.InterfaceByName(*out)
	if err != nil {
		return err
	}
	var s, d [6]byte
	copy(s[:], oi.HardwareAddr)
	copy(d[:], dmac)
	var n uint64
	switch *mode {
	case "xdp":
		n, err = rings.XDPForwardLoopTo(ctx, *in, *out, rings.Options{Burst: *burst, XDPMode: *xdpMode}, dmac)
	case "ring":
		n, err = ringLoop(ctx, *in, *out, *burst, *shed, &s, &d)
	case "lib":
		n, err = libLoop(ctx, *in, *out, &s, &d)
	case "pkt":
		n, err = pktLoop(ctx, *in, *out, &s, &d)
	default:
		err = fmt.Errorf("unknown -mode %q", *mode)
	}
	fmt.Printf("fwd %s forwarded %d\n", *mode, n)
	return err
}

func ringLoop(ctx context.Context, in, out string, burst int, shed bool, src, dst *[6]byte) (uint64, error) {
	opt := rings.Options{Burst: burst}
	pi, err := rings.Open(in, rings.MethodPacket, opt)
	if err != nil {
		return 0, err
	}
	defer pi.Close()
	// SNIFFER false: the nf_tables ingress drop keeps the kernel stack
	// from processing the frames too (as FromDevice SNIFFER false does).
	if err := pi.(rings.RXStarter).StartRX(rings.Options{Burst: burst, Shed: shed}); err != nil {
		return 0, err
	}
	po, err := rings.Open(out, rings.MethodPacket, opt)
	if err != nil {
		return 0, err
	}
	defer po.Close()
	pool := packet.NewPool(nil)
	var b, ob packet.Batch
	var fwd uint64
	var w idleWait
	for i := 0; ; i++ {
		if i&63 == 0 && ctx.Err() != nil {
			return fwd, nil
		}
		n, err := pi.RecvBatch(pool, &b, burst)
		if err != nil {
			return fwd, err
		}
		if n == 0 {
			w.idle()
			continue
		}
		w.busy()
		for j := 0; j < b.N; j++ {
			if rings.RouteIPv4(b.P[j].Data(), src, dst) {
				ob.Append(b.P[j])
			} else {
				pool.Free(b.P[j])
			}
		}
		b.Reset()
		sent, _ := po.SendBatch(pool, &ob)
		fwd += uint64(sent)
	}
}

// idleWait is flowbox's worker idle strategy (appliance/runtime/sched.go,
// worker.loop), copied so that the bare PACKET loop spends the same CPU
// when it has nothing to do: after 64 empty passes, sleep on a Go timer
// for 10 µs, growing by 10 µs per further empty pass up to 1 ms; any work
// resets it. (Like flowbox, it does not block in poll(2): a frame that
// arrives during a sleep waits for the sleep to end.)
type idleWait struct {
	spins int
	sleep time.Duration
}

func (w *idleWait) busy() { w.spins, w.sleep = 0, 0 }

func (w *idleWait) idle() {
	if w.spins++; w.spins < 64 {
		return
	}
	if w.sleep < time.Millisecond {
		w.sleep += 10 * time.Microsecond
	}
	t := time.NewTimer(w.sleep)
	<-t.C
}

// interfaces looks up the input and output devices.
func interfaces(in, out string) (ii, oi *net.Interface, err error) {
	if ii, err = net.InterfaceByName(in); err == nil {
		oi, err = net.InterfaceByName(out)
	}
	return ii, oi, err
}

// libLoop is the forwarder io-limits.md measured as "one syscall per
// packet": mdlayher/packet's ReadFrom and WriteTo, one frame each. Like
// Click's userlevel FromDevice (recvfrom after poll(2) says readable) it
// waits in the poller (Go's netpoller: epoll) when the socket is empty.
func libLoop(ctx context.Context, in, out string, src, dst *[6]byte) (uint64, error) {
	ii, oi, err := interfaces(in, out)
	if err != nil {
		return 0, err
	}
	rc, err := mdpacket.Listen(ii, mdpacket.Raw, unix.ETH_P_ALL, nil)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	wc, err := mdpacket.Listen(oi, mdpacket.Raw, 0, nil) // protocol 0: receives nothing
	if err != nil {
		return 0, err
	}
	defer wc.Close()
	stop := context.AfterFunc(ctx, func() { rc.SetReadDeadline(time.Now()) })
	defer stop()
	to := &mdpacket.Addr{HardwareAddr: net.HardwareAddr(dst[:])}
	buf := make([]byte, 2048)
	var fwd uint64
	for {
		n, _, err := rc.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return fwd, nil
			}
			return fwd, err
		}
		f := buf[:n]
		if !rings.RouteIPv4(f, src, dst) {
			continue
		}
		if _, err := wc.WriteTo(f, to); err == nil {
			fwd++
		}
	}
}

func pktLoop(ctx context.Context, in, out string, src, dst *[6]byte) (uint64, error) {
	ii, oi, err := interfaces(in, out)
	if err != nil {
		return 0, err
	}
	const ethPAll = 0x0300 // htons(ETH_P_ALL)
	rfd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, ethPAll)
	if err != nil {
		return 0, err
	}
	defer unix.Close(rfd)
	_ = unix.SetsockoptInt(rfd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1)
	_ = unix.SetsockoptTimeval(rfd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 100000})
	if err := unix.Bind(rfd, &unix.SockaddrLinklayer{Protocol: ethPAll, Ifindex: ii.Index}); err != nil {
		return 0, err
	}
	wfd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(wfd)
	if err := unix.Bind(wfd, &unix.SockaddrLinklayer{Ifindex: oi.Index}); err != nil {
		return 0, err
	}
	buf := make([]byte, 2048)
	bp := uintptr(unsafe.Pointer(&buf[0]))
	var fwd uint64
	for i := 0; ; i++ {
		if i&63 == 0 && ctx.Err() != nil {
			return fwd, nil
		}
		// One recvfrom per frame (a raw syscall: no Go-side allocation).
		n, _, e := unix.Syscall6(unix.SYS_RECVFROM, uintptr(rfd), bp, uintptr(len(buf)), 0, 0, 0)
		if e != 0 {
			if e == unix.EAGAIN || e == unix.EINTR {
				if ctx.Err() != nil {
					return fwd, nil
				}
				continue
			}
			return fwd, e
		}
		f := buf[:n]
		if !rings.RouteIPv4(f, src, dst) {
			continue
		}
		// One send per frame.
		if _, _, e := unix.Syscall6(unix.SYS_SENDTO, uintptr(wfd), bp, n, 0, 0, 0); e == 0 {
			fwd++
		}
	}
}
