//go:build linux

package rings

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asavie/xdp"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"flowbox/appliance/packet"
)

// The tests build veth pairs inside a network namespace of their own
// (names fbxx<random>, addresses 10.252.x.y), enter it on the test's OS
// thread, and talk to the far end of each pair with AF_PACKET sockets.

const xdpTestEtherType = 0x88b5 // IEEE local experimental

type xdpPair struct{ a, b string } // a: the XDP side, b: the peer

type xdpLab struct {
	t     *testing.T
	ns    string
	net   int // x in 10.252.x.0/24
	pairs []xdpPair
}

func xdpRequireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: AF_XDP tests need root (network namespaces, CAP_NET_ADMIN, CAP_BPF)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("skipping: AF_XDP tests need iproute2's `ip`")
	}
	fd, err := unix.Socket(unix.AF_XDP, unix.SOCK_RAW, 0)
	if err != nil {
		t.Skipf("skipping: this kernel has no AF_XDP sockets: %v", err)
	}
	unix.Close(fd)
}

func xdpIP(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// newXDPLab creates a namespace with npairs veth pairs (each end with
// queues rx/tx queues), enters it on the calling goroutine's thread and
// undoes everything at cleanup.
func newXDPLab(t *testing.T, npairs, queues int) *xdpLab {
	t.Helper()
	xdpRequireRoot(t)
	var rb [4]byte
	_, _ = rand.Read(rb[:])
	suffix := hex.EncodeToString(rb[:3])
	l := &xdpLab{t: t, ns: "fbxx" + suffix, net: int(rb[3])}
	xdpIP(t, "netns", "add", l.ns)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", l.ns).Run() })

	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatalf("netns.Get: %v", err)
	}
	h, err := netns.GetFromName(l.ns)
	if err != nil {
		t.Fatalf("netns %s: %v", l.ns, err)
	}
	if err := netns.Set(h); err != nil {
		t.Fatalf("entering netns %s: %v", l.ns, err)
	}
	t.Cleanup(func() {
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread() // else the thread dies with the goroutine
		}
		orig.Close()
		h.Close()
	})
	// No IPv6: keeps router solicitations and MLD reports off the wire.
	for _, f := range []string{"all", "default"} {
		_ = os.WriteFile("/proc/sys/net/ipv6/conf/"+f+"/disable_ipv6", []byte("1"), 0)
	}
	xdpIP(t, "-n", l.ns, "link", "set", "lo", "up")
	q := fmt.Sprint(queues)
	for i := 0; i < npairs; i++ {
		p := xdpPair{a: fmt.Sprintf("fbxx%s%da", suffix, i), b: fmt.Sprintf("fbxx%s%db", suffix, i)}
		xdpIP(t, "-n", l.ns, "link", "add", p.a, "numtxqueues", q, "numrxqueues", q, "type", "veth",
			"peer", "name", p.b, "numtxqueues", q, "numrxqueues", q)
		xdpIP(t, "-n", l.ns, "addr", "add", fmt.Sprintf("10.252.%d.%d/30", l.net, 4*i+1), "dev", p.a)
		xdpIP(t, "-n", l.ns, "addr", "add", fmt.Sprintf("10.252.%d.%d/30", l.net, 4*i+2), "dev", p.b)
		xdpIP(t, "-n", l.ns, "link", "set", p.a, "up")
		xdpIP(t, "-n", l.ns, "link", "set", p.b, "up")
		l.pairs = append(l.pairs, p)
	}
	return l
}

func (l *xdpLab) mac(ifname string) net.HardwareAddr {
	l.t.Helper()
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		l.t.Fatalf("%s: %v", ifname, err)
	}
	return ifi.HardwareAddr
}

// xdpShown is what `ip link show` says about XDP on ifname ("" if none).
func (l *xdpLab) xdpShown(ifname string) string {
	l.t.Helper()
	out := xdpIP(l.t, "-n", l.ns, "link", "show", "dev", ifname)
	for _, w := range strings.Fields(out) {
		if strings.HasPrefix(w, "xdp") || strings.HasPrefix(w, "prog/xdp") {
			return strings.TrimSpace(out)
		}
	}
	return ""
}

func (l *xdpLab) open(ifname string, opt Options) *XDPPort {
	l.t.Helper()
	p, err := OpenXDP(ifname, opt)
	if err != nil {
		l.t.Fatalf("OpenXDP(%s, %+v): %v", ifname, opt, err)
	}
	l.t.Cleanup(func() { p.Close() })
	return p
}

// rawSocket is an AF_PACKET socket on ifname for frames of ethertype proto.
func (l *xdpLab) rawSocket(ifname string, proto uint16) int {
	l.t.Helper()
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		l.t.Fatalf("%s: %v", ifname, err)
	}
	pr := int(proto>>8 | proto<<8)
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, pr)
	if err != nil {
		l.t.Fatalf("AF_PACKET socket: %v", err)
	}
	l.t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: uint16(pr), Ifindex: ifi.Index}); err != nil {
		l.t.Fatalf("AF_PACKET bind %s: %v", ifname, err)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 16<<20)
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 16<<20)
	return fd
}

// rawRecv reads one frame, waiting up to timeout; nil on timeout.
func rawRecv(fd int, buf []byte, timeout time.Duration) []byte {
	deadline := time.Now().Add(timeout)
	for {
		n, _, err := unix.Recvfrom(fd, buf, unix.MSG_DONTWAIT)
		if err == nil {
			return buf[:n]
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		_, _ = unix.Poll(fds, int(left/time.Millisecond)+1)
	}
}

// xdpTestFrame is frame number seq: distinct contents and lengths 60..1499.
func xdpTestFrame(dst, src net.HardwareAddr, seq int) []byte {
	size := 60 + (seq*37)%1440
	f := make([]byte, size)
	copy(f, dst)
	copy(f[6:], src)
	binary.BigEndian.PutUint16(f[12:], xdpTestEtherType)
	binary.BigEndian.PutUint32(f[14:], uint32(seq))
	for i := 18; i < size; i++ {
		f[i] = byte(seq*7 + i)
	}
	return f
}

func isTestFrame(f []byte) bool {
	return len(f) >= 18 && binary.BigEndian.Uint16(f[12:]) == xdpTestEtherType
}

// checkRx sends n frames from the peer and receives them on p in order.
func (l *xdpLab) checkRx(p *XDPPort, pair xdpPair, n int) {
	t := l.t
	t.Helper()
	if err := p.StartReceive(); err != nil {
		t.Fatal(err)
	}
	raw := l.rawSocket(pair.b, xdpTestEtherType)
	frames := make([][]byte, n)
	macA, macB := l.mac(pair.a), l.mac(pair.b)
	for i := range frames {
		frames[i] = xdpTestFrame(macA, macB, i)
	}
	pool := packet.NewPool(nil)
	var b packet.Batch
	got, other := 0, 0
	for sent := 0; sent < n; {
		k := min(32, n-sent)
		for i := 0; i < k; i++ {
			if _, err := unix.Write(raw, frames[sent+i]); err != nil {
				t.Fatalf("sending frame %d from %s: %v", sent+i, pair.b, err)
			}
		}
		sent += k
		deadline := time.Now().Add(3 * time.Second)
		for got < sent {
			m, err := p.RecvBatch(pool, &b, 64)
			if err != nil {
				t.Fatalf("RecvBatch: %v", err)
			}
			for _, pk := range b.Packets() {
				if !isTestFrame(pk.Data()) {
					other++
					continue
				}
				if got >= n || string(pk.Data()) != string(frames[got]) {
					t.Fatalf("frame %d: got %d bytes % x..., want %d bytes % x...", got, pk.Len(), pk.Data()[:18], len(frames[min(got, n-1)]), frames[min(got, n-1)][:18])
				}
				got++
			}
			pool.FreeBatch(&b)
			if m == 0 {
				if time.Now().After(deadline) {
					st := p.Stats()
					t.Fatalf("received %d of %d frames sent (stats %+v)", got, sent, st)
				}
				if _, err := p.Wait(10 * time.Millisecond); err != nil {
					t.Fatalf("Wait: %v", err)
				}
			}
		}
	}
	st := p.Stats()
	if st.RX < uint64(n) || st.KernelDrops != 0 || st.RXDrops != 0 {
		t.Errorf("stats after RX of %d: %+v", n, st)
	}
	t.Logf("%s %s: received %d/%d frames in order, unchanged (%d others)", pair.a, p.Mode(), got, n, other)
}

// checkTx transmits n frames on p and checks the peer gets them in order.
func (l *xdpLab) checkTx(p *XDPPort, pair xdpPair, n int) {
	t := l.t
	t.Helper()
	raw := l.rawSocket(pair.b, xdpTestEtherType)
	pool := packet.NewPool(nil)
	var b packet.Batch
	buf := make([]byte, 4096)
	got := 0
	macA, macB := l.mac(pair.a), l.mac(pair.b)
	recv := func(timeout time.Duration) bool {
		f := rawRecv(raw, buf, timeout)
		if f == nil {
			return false
		}
		want := xdpTestFrame(macB, macA, got)
		if string(f) != string(want) {
			t.Fatalf("peer frame %d: got %d bytes % x..., want %d bytes % x...", got, len(f), f[:min(18, len(f))], len(want), want[:18])
		}
		got++
		return true
	}
	sentTotal := 0
	for seq := 0; seq < n; {
		for !b.Full() && seq < n {
			b.Append(pool.NewFrom(xdpTestFrame(macB, macA, seq)))
			seq++
		}
		k := b.N
		sent, err := p.SendBatch(pool, &b)
		if err != nil || sent != k || b.N != 0 {
			t.Fatalf("SendBatch(%d): sent %d, err %v, batch left %d", k, sent, err, b.N)
		}
		sentTotal += sent
		for recv(0) {
		}
	}
	for got < n && recv(2*time.Second) {
	}
	if got != n {
		t.Fatalf("peer %s received %d of %d frames (stats %+v)", pair.b, got, n, p.Stats())
	}
	if st := p.Stats(); st.TX != uint64(sentTotal) || st.TXDrops != 0 {
		t.Errorf("stats after TX of %d: %+v", n, st)
	}
	t.Logf("%s %s: transmitted %d frames, peer got all in order, unchanged", pair.a, p.Mode(), n)
}

// TestXDPModes receives and transmits in native and generic mode on the
// same veth, checks Mode, that the program is attached while open and
// gone after Close (`ip link` shows no xdp), and that auto picks native.
func TestXDPModes(t *testing.T) {
	l := newXDPLab(t, 1, 1)
	pr := l.pairs[0]
	for _, tc := range []struct{ mode, want, shown string }{
		{"native", "xdp-native", "prog/xdp"},
		{"generic", "xdp-generic", "xdpgeneric"},
		{"", "xdp-native", "prog/xdp"},
	} {
		promisc := tc.mode == ""
		p := l.open(pr.a, Options{XDPMode: tc.mode, Promisc: promisc})
		if promisc && !strings.Contains(xdpIP(t, "-n", l.ns, "-d", "link", "show", "dev", pr.a), "promiscuity 1") {
			t.Errorf("Promisc: device not promiscuous while open")
		}
		if p.Mode() != tc.want || p.Method() != MethodXDP {
			t.Fatalf("XDPMode %q: Mode %q Method %q, want %q XDP", tc.mode, p.Mode(), p.Method(), tc.want)
		}
		if s := l.xdpShown(pr.a); !strings.Contains(s, tc.shown) {
			t.Fatalf("XDPMode %q: ip link show has no %q while open:\n%s", tc.mode, tc.shown, s)
		}
		if st, err := p.att.nl.queryXDP(p.ifindex); err != nil || st.progID == 0 ||
			(st.attached == xdpAttachedDrv) != (tc.want == "xdp-native") ||
			(st.attached == xdpAttachedSkb) != (tc.want == "xdp-generic") {
			t.Fatalf("XDPMode %q: netlink reports %+v, %v", tc.mode, st, err)
		}
		if p.ZeroCopy() {
			t.Errorf("veth bound in zero-copy mode; io-limits.md says it has none")
		}
		l.checkRx(p, pr, 3000)
		l.checkTx(p, pr, 2000)
		if err := p.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if s := l.xdpShown(pr.a); s != "" {
			t.Fatalf("XDPMode %q: program still attached after Close:\n%s", tc.mode, s)
		}
		if nl, err := newXDPNetlink(); err == nil {
			if st, err := nl.queryXDP(p.ifindex); err != nil || st.attached != xdpAttachedNone || st.progID != 0 {
				t.Fatalf("XDPMode %q: after Close netlink reports %+v, %v", tc.mode, st, err)
			}
			nl.close()
		}
		if !strings.Contains(xdpIP(t, "-n", l.ns, "-d", "link", "show", "dev", pr.a), "promiscuity 0") {
			t.Errorf("device still promiscuous after Close")
		}
		if err := p.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		var b packet.Batch
		if _, err := p.RecvBatch(packet.NewPool(nil), &b, 8); err == nil {
			t.Fatalf("RecvBatch after Close: no error")
		}
	}
}

// TestXDPSharedPortConcurrent runs one Port's receive and transmit halves
// on two goroutines at once (FromDevice and ToDevice of one device sharing
// the Port through the registry).
func TestXDPSharedPortConcurrent(t *testing.T) {
	l := newXDPLab(t, 1, 1)
	pr := l.pairs[0]
	p1, rel1, err := Acquire(pr.a, MethodXDP, Options{})
	if err != nil {
		t.Fatal(err)
	}
	p2, rel2, err := Acquire(pr.a, MethodXDP, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p1 != p2 || Held(pr.a, MethodXDP, 0) != 2 {
		t.Fatalf("Acquire did not share the port")
	}
	p := p1.(*XDPPort)
	if err := p.StartReceive(); err != nil {
		t.Fatal(err)
	}
	txRaw := l.rawSocket(pr.b, xdpTestEtherType)
	macA, macB := l.mac(pr.a), l.mac(pr.b)
	const n = 2000
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	wg.Add(3)
	go func() { // peer sends to the port
		defer wg.Done()
		for i := 0; i < n; i++ {
			if _, err := unix.Write(txRaw, xdpTestFrame(macA, macB, i)); err != nil {
				errs <- err
				return
			}
			if i%32 == 31 {
				time.Sleep(200 * time.Microsecond)
			}
		}
	}()
	go func() { // FromDevice
		defer wg.Done()
		pool := packet.NewPool(nil)
		var b packet.Batch
		got := 0
		deadline := time.Now().Add(10 * time.Second)
		for got < n && time.Now().Before(deadline) {
			if _, err := p1.RecvBatch(pool, &b, 64); err != nil {
				errs <- err
				return
			}
			for _, pk := range b.Packets() {
				if isTestFrame(pk.Data()) {
					if seq := int(binary.BigEndian.Uint32(pk.Data()[14:])); seq != got {
						errs <- fmt.Errorf("rx frame %d has seq %d", got, seq)
						return
					}
					got++
				}
			}
			pool.FreeBatch(&b)
			if b.N == 0 {
				_, _ = p.Wait(time.Millisecond)
			}
		}
		if got != n {
			errs <- fmt.Errorf("received %d of %d", got, n)
		}
	}()
	go func() { // ToDevice
		defer wg.Done()
		pool := packet.NewPool(nil)
		var b packet.Batch
		for seq := 0; seq < n; {
			for !b.Full() && seq < n {
				b.Append(pool.NewFrom(xdpTestFrame(macB, macA, seq)))
				seq++
			}
			if _, err := p2.SendBatch(pool, &b); err != nil {
				errs <- err
				return
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	st := p.Stats()
	if st.TX != n || st.RX < n {
		t.Errorf("stats %+v, want TX=%d RX>=%d", st, n, n)
	}
	rel1()
	if l.xdpShown(pr.a) == "" {
		t.Fatalf("program detached while the port is still held")
	}
	rel2()
	rel2()
	if s := l.xdpShown(pr.a); s != "" {
		t.Fatalf("program still attached after the last release:\n%s", s)
	}
}

// TestXDPAllocs: RecvBatch and SendBatch allocate nothing per batch.
func TestXDPAllocs(t *testing.T) {
	l := newXDPLab(t, 1, 1)
	pr := l.pairs[0]
	for _, mode := range []string{"native", "generic"} {
		p := l.open(pr.a, Options{XDPMode: mode})
		if err := p.StartReceive(); err != nil {
			t.Fatal(err)
		}
		raw := l.rawSocket(pr.b, xdpTestEtherType)
		const burst = 32
		frames := make([][]byte, burst)
		macA, macB := l.mac(pr.a), l.mac(pr.b)
		for i := range frames {
			frames[i] = xdpTestFrame(macA, macB, i)
		}
		pool := packet.NewPool(nil)
		var b packet.Batch
		total := 0
		short := 0
		recvAllocs := testing.AllocsPerRun(200, func() {
			for i := range frames {
				_, _ = unix.Write(raw, frames[i])
			}
			got := 0
			for spin := 0; got < burst && spin < 1_000_000; spin++ {
				n, _ := p.RecvBatch(pool, &b, burst-got)
				got += n
				pool.FreeBatch(&b)
			}
			total += got
			if got < burst {
				short++
			}
		})
		if short > 0 {
			t.Errorf("%s: %d rounds did not receive all %d frames", mode, short, burst)
		}
		if recvAllocs != 0 {
			t.Errorf("%s: RecvBatch allocates %.1f times per batch of %d, want 0", mode, recvAllocs, burst)
		}

		short = 0
		data := xdpTestFrame(macB, macA, 1)[:60]
		sendAllocs := testing.AllocsPerRun(200, func() {
			for i := 0; i < burst; i++ {
				b.Append(pool.NewFrom(data))
			}
			if n, err := p.SendBatch(pool, &b); n != burst || err != nil {
				short++
			}
		})
		if short > 0 {
			t.Errorf("%s: %d SendBatch rounds did not send all %d", mode, short, burst)
		}
		if sendAllocs != 0 {
			t.Errorf("%s: SendBatch allocates %.1f times per batch of %d, want 0", mode, sendAllocs, burst)
		}
		t.Logf("%s: allocs per batch of %d: RecvBatch %.0f, SendBatch %.0f (%d frames received)", mode, burst, recvAllocs, sendAllocs, total)
		p.Close()
	}
}

// TestXDPErrors: one clear sentence naming the interface for a missing
// interface, an unsupported or unknown mode, a queue that does not exist
// and a mode clash between queues; none leaves a program behind.
func TestXDPErrors(t *testing.T) {
	l := newXDPLab(t, 1, 2)
	pr := l.pairs[0]
	// A device without native XDP: ifb (this kernel has no dummy driver),
	// else the namespace's loopback.
	dummy := "fbxx" + l.ns[4:] + "i"
	if exec.Command("ip", "-n", l.ns, "link", "add", dummy, "type", "ifb").Run() != nil {
		dummy = "lo"
	}
	xdpIP(t, "-n", l.ns, "link", "set", dummy, "up")

	expect := func(err error, ifname string, is error, words ...string) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: no error", ifname)
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, ifname+": ") || strings.Count(msg, "\n") != 0 {
			t.Errorf("error does not name %s in one sentence: %q", ifname, msg)
		}
		if is != nil && !errors.Is(err, is) {
			t.Errorf("error %q is not %v", msg, is)
		}
		for _, w := range words {
			if !strings.Contains(msg, w) {
				t.Errorf("error %q lacks %q", msg, w)
			}
		}
		t.Logf("error: %v", err)
	}

	_, err := OpenXDP("fbxxmissing0", Options{})
	expect(err, "fbxxmissing0", ErrNoInterface, "ip link")
	_, err = Open("fbxxmissing0", MethodXDP, Options{})
	expect(err, "fbxxmissing0", ErrNoInterface)

	_, err = OpenXDP(dummy, Options{XDPMode: "native"})
	expect(err, dummy, ErrXDPMode, "native", "generic")
	if s := l.xdpShown(dummy); s != "" {
		t.Fatalf("failed open left a program:\n%s", s)
	}
	_, err = OpenXDP(pr.a, Options{XDPMode: "turbo"})
	expect(err, pr.a, ErrXDPMode, "turbo")
	_, err = OpenXDP(pr.a, Options{BPFFilter: "udp"})
	expect(err, pr.a, nil, "METHOD PACKET")
	_, err = OpenXDP(pr.a, Options{Sniffer: true})
	expect(err, pr.a, nil, "METHOD PACKET")
	_, err = OpenXDP(pr.a, Options{FrameSize: 3000})
	expect(err, pr.a, nil, "2048")
	_, err = OpenXDP(pr.a, Options{Queue: 7})
	expect(err, pr.a, nil, "queue 7")
	if s := l.xdpShown(pr.a); s != "" {
		t.Fatalf("failed open left a program:\n%s", s)
	}

	// Auto on a device without native XDP falls back to generic.
	pd := l.open(dummy, Options{})
	if pd.Mode() != "xdp-generic" {
		t.Errorf("auto on dummy: mode %q, want xdp-generic", pd.Mode())
	}
	pd.Close()

	// Native XDP on veth refuses a peer MTU above a page: auto falls back
	// to generic, explicit native says what to do.
	xdpIP(t, "-n", l.ns, "link", "set", pr.b, "mtu", "9000")
	_, err = OpenXDP(pr.a, Options{XDPMode: "native"})
	expect(err, pr.a, ErrXDPMode, "MTU", "generic")
	pj := l.open(pr.a, Options{})
	if pj.Mode() != "xdp-generic" {
		t.Errorf("auto with a jumbo peer: mode %q, want xdp-generic", pj.Mode())
	}
	pj.Close()
	xdpIP(t, "-n", l.ns, "link", "set", pr.b, "mtu", "1500")

	// Somebody else's program on the device: a clear error, and theirs
	// stays attached.
	nl, err := newXDPNetlink()
	if err != nil {
		t.Fatal(err)
	}
	defer nl.close()
	other, err := xdp.NewProgram(1)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	ifiA, _ := net.InterfaceByName(pr.a)
	if err := nl.setXDP(ifiA.Index, other.Program.FD(), unix.XDP_FLAGS_SKB_MODE, 0); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"", "generic"} {
		_, err = OpenXDP(pr.a, Options{XDPMode: m})
		expect(err, pr.a, nil, "another XDP program", "xdp off")
	}
	if !strings.Contains(l.xdpShown(pr.a), "xdpgeneric") {
		t.Fatalf("the other program was removed")
	}
	if err := nl.setXDP(ifiA.Index, -1, unix.XDP_FLAGS_SKB_MODE, 0); err != nil {
		t.Fatal(err)
	}

	// One socket per queue, one program per device, modes must agree.
	p0 := l.open(pr.a, Options{Queue: 0, Queues: 2, XDPMode: "native"})
	_, err = OpenXDP(pr.a, Options{Queue: 1, XDPMode: "generic"})
	expect(err, pr.a, ErrXDPMode, "native")
	_, err = OpenXDP(pr.a, Options{Queue: 0})
	expect(err, pr.a, nil, "already open")
	p1 := l.open(pr.a, Options{Queue: 1})
	if p1.Mode() != "xdp-native" || p1.Queue() != 1 {
		t.Errorf("queue 1: mode %q queue %d", p1.Mode(), p1.Queue())
	}
	p0.Close()
	if l.xdpShown(pr.a) == "" {
		t.Fatalf("program detached while queue 1 is open")
	}
	p1.Close()
	if s := l.xdpShown(pr.a); s != "" {
		t.Fatalf("program left after both queues closed:\n%s", s)
	}
}

// TestXDPPermissionError drops this thread's effective capabilities (the
// permitted set stays, so they are restored after) and checks the error.
func TestXDPPermissionError(t *testing.T) {
	l := newXDPLab(t, 1, 1)
	pr := l.pairs[0]
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var saved [2]unix.CapUserData
	if err := unix.Capget(&hdr, &saved[0]); err != nil {
		t.Skipf("capget: %v", err)
	}
	dropped := saved
	dropped[0].Effective, dropped[1].Effective = 0, 0
	if err := unix.Capset(&hdr, &dropped[0]); err != nil {
		t.Skipf("capset: %v", err)
	}
	_, err := OpenXDP(pr.a, Options{})
	if rerr := unix.Capset(&hdr, &saved[0]); rerr != nil {
		t.Fatalf("restoring capabilities: %v", rerr) // the locked thread is discarded
	}
	if err == nil {
		t.Fatalf("OpenXDP without capabilities succeeded")
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, pr.a+": ") || !strings.Contains(msg, "CAP_BPF") || !strings.Contains(msg, "root") {
		t.Errorf("permission error is not clear: %q", msg)
	}
	t.Logf("error: %v", err)
	if s := l.xdpShown(pr.a); s != "" {
		t.Fatalf("failed open left a program:\n%s", s)
	}
}

// xdpIPv4Frame builds an Ethernet/IPv4/UDP frame with a valid checksum.
func xdpIPv4Frame(dst, src net.HardwareAddr, ttl byte, seq int) []byte {
	f := make([]byte, 14+20+8+22)
	copy(f, dst)
	copy(f[6:], src)
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(len(ip)))
	binary.BigEndian.PutUint16(ip[4:], uint16(seq))
	ip[8], ip[9] = ttl, 17
	copy(ip[12:], []byte{10, 252, 0, 1})
	copy(ip[16:], []byte{10, 253, 0, 2})
	binary.BigEndian.PutUint16(ip[10:], ^xdpCsum(ip[:20]))
	binary.BigEndian.PutUint16(ip[20:], 1000)
	binary.BigEndian.PutUint16(ip[22:], 2000)
	binary.BigEndian.PutUint16(ip[24:], 8+22)
	binary.BigEndian.PutUint32(ip[28:], uint32(seq))
	return f
}

func TestXDPRouteIPv4(t *testing.T) {
	src := [6]byte{2, 0, 0, 0, 0, 1}
	dst := [6]byte{2, 0, 0, 0, 0, 2}
	for ttl := 2; ttl < 256; ttl++ {
		f := xdpIPv4Frame(net.HardwareAddr{1, 1, 1, 1, 1, 1}, net.HardwareAddr{3, 3, 3, 3, 3, 3}, byte(ttl), ttl*977)
		if !RouteIPv4(f, &src, &dst) {
			t.Fatalf("ttl %d: dropped", ttl)
		}
		want := xdpIPv4Frame(dst[:], src[:], byte(ttl-1), ttl*977)
		if string(f) != string(want) {
			t.Fatalf("ttl %d: got % x, want % x", ttl, f[:34], want[:34])
		}
	}
	bad := xdpIPv4Frame(dst[:], src[:], 64, 1)
	bad[14+10]++
	ttl1 := xdpIPv4Frame(dst[:], src[:], 1, 1)
	short := xdpIPv4Frame(dst[:], src[:], 64, 1)[:30]
	for name, f := range map[string][]byte{"bad checksum": bad, "ttl 1": ttl1, "short": short} {
		if RouteIPv4(f, &src, &dst) {
			t.Errorf("%s: forwarded", name)
		}
	}
}

// TestXDPForwardLoop runs the bare forwarder g→d0 [loop] d1→s.
func TestXDPForwardLoop(t *testing.T) {
	l := newXDPLab(t, 2, 1)
	in, out := l.pairs[0], l.pairs[1]
	nextHop := net.HardwareAddr{0x02, 0xfb, 0xfb, 0, 0, 0x99}
	xdpIP(t, "-n", l.ns, "neigh", "replace", fmt.Sprintf("10.252.%d.6", l.net), "lladdr", nextHop.String(), "dev", out.a, "nud", "permanent")
	gen := l.rawSocket(in.b, xdpTestEtherType)
	sink := l.rawSocket(out.b, 0x0800)
	macIn, macGen, macOut := l.mac(in.a), l.mac(in.b), l.mac(out.a)

	const n = 3000
	ready := make(chan struct{})
	xdpFwdReady = func() { close(ready) }
	defer func() { xdpFwdReady = nil }()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errs := make(chan error, 1)
	go func() {
		defer cancel()
		select {
		case <-ready:
		case <-time.After(10 * time.Second):
			errs <- errors.New("forwarder did not start")
			return
		}
		buf := make([]byte, 4096)
		got := 0
		for i := 0; i < n; i++ {
			if i%100 == 7 { // junk that must not be forwarded
				_, _ = unix.Write(gen, xdpIPv4Frame(macIn, macGen, 1, i))
				_, _ = unix.Write(gen, xdpTestFrame(macIn, macGen, i))
			}
			if _, err := unix.Write(gen, xdpIPv4Frame(macIn, macGen, 64, i)); err != nil {
				errs <- err
				return
			}
			if i%32 == 31 || i == n-1 {
				for got <= i {
					f := rawRecv(sink, buf, 2*time.Second)
					if f == nil {
						errs <- fmt.Errorf("sink got %d of %d", got, i+1)
						return
					}
					want := xdpIPv4Frame(nextHop, macOut, 63, got)
					if string(f) != string(want) {
						errs <- fmt.Errorf("sink frame %d: got % x, want % x", got, f[:34], want[:34])
						return
					}
					got++
				}
			}
		}
		errs <- nil
	}()
	fwd, err := XDPForwardLoop(ctx, in.a, out.a, Options{})
	if err != nil {
		t.Fatalf("XDPForwardLoop: %v", err)
	}
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	if fwd != n {
		t.Errorf("forwarded %d, want %d", fwd, n)
	}
	for _, d := range []string{in.a, out.a} {
		if s := l.xdpShown(d); s != "" {
			t.Errorf("program left on %s:\n%s", d, s)
		}
	}
	t.Logf("forwarded %d frames with TTL/checksum/MAC rewrite, junk dropped", fwd)
}

// TestXDPWaitClose: Wait times out without traffic, and a Wait with no
// timeout returns an error soon after a concurrent Close.
func TestXDPWaitClose(t *testing.T) {
	l := newXDPLab(t, 1, 1)
	p := l.open(l.pairs[0].a, Options{})
	t0 := time.Now()
	if ok, err := p.Wait(30 * time.Millisecond); ok || err != nil {
		t.Fatalf("Wait on an idle port: %v %v", ok, err)
	}
	if d := time.Since(t0); d < 25*time.Millisecond || d > time.Second {
		t.Errorf("Wait(30ms) took %v", d)
	}
	done := make(chan error, 1)
	go func() {
		_, err := p.Wait(-1)
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "closed") {
			t.Errorf("Wait after Close: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Wait(-1) did not return after Close")
	}
	var b packet.Batch
	b.Append(packet.NewPool(nil).New(60))
	if n, err := p.SendBatch(packet.NewPool(nil), &b); n != 0 || err == nil || b.N != 0 {
		t.Errorf("SendBatch after Close: %d %v (batch left %d)", n, err, b.N)
	}
}
