//go:build linux

package rings

// METHOD XDP: AF_XDP ports.
//
// Program loading is asavie/xdp v0.3.3's (NewProgram builds libbpf's
// classic XSKMAP redirect program; Register/Unregister fill its maps). The
// rest is our own, because the library's data path is not usable as is:
//   - its rings use plain loads/stores for the shared indices (asavie #34);
//     ours use sync/atomic with cached indices (xdp_ring.go);
//   - it does not bind with XDP_USE_NEED_WAKEUP (asavie #35); we do, and
//     only make the syscall the kernel asks for;
//   - Transmit kicks once, but a copy-mode kick sends at most 32 frames; we
//     kick until the tx ring is drained;
//   - GetDescs is an O(NumFrames) scan; our chunks go straight from rx back
//     to the fill ring and tx chunks live on a stack (O(1) per frame);
//   - Stats() panics on a TX-only socket; Transmit panics on an unexpected
//     errno; Attach/Detach use flags 0, so an SKB-mode program is never
//     removed (and Attach then loops forever waiting for it to go): we
//     attach/detach through our own rtnetlink socket with explicit mode
//     flags (xdp_netlink.go).
//
// One Port is one queue of one device and holds one AF_XDP socket with its
// own UMEM. The program is attached once per device (shared, refcounted by
// the ports on its queues) and detached when the last port closes.

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/asavie/xdp"
	"golang.org/x/sys/unix"

	"flowbox/appliance/packet"
)

func init() {
	RegisterOpener(MethodXDP, openXDP)
}

const (
	xdpDefaultFrameSize  = 2048
	xdpDefaultRingFrames = 4096
	xdpMinRingFrames     = 64
	xdpMaxRingFrames     = 1 << 16
	xdpMapEntries        = 64 // queue slots in the XSKMAP (grown for higher queue numbers)
	xdpCaps              = "CAP_NET_RAW, CAP_NET_ADMIN and CAP_BPF (or CAP_SYS_ADMIN)"
)

// ErrXDPMode marks an XDP mode the device (or kernel) does not support
// (test with errors.Is).
var ErrXDPMode = errors.New("unsupported XDP mode")

// xdpModeError is a one-sentence error that matches ErrXDPMode.
type xdpModeError struct{ msg string }

func (e *xdpModeError) Error() string        { return e.msg }
func (e *xdpModeError) Is(target error) bool { return target == ErrXDPMode }

func xdpModeErrorf(format string, args ...any) error {
	return &xdpModeError{fmt.Sprintf(format, args...)}
}

// XDPPort is an AF_XDP Port (one queue of one device). RecvBatch and
// SendBatch may be called from two different goroutines at the same time
// (the receive and transmit halves share no state), which is how one Port
// serves both FromDevice(eth1) and ToDevice(eth1); each half itself is
// single-caller. Close may be called from anywhere, once both halves are no
// longer in use or concurrently with them (they then return an error).
type XDPPort struct {
	ifname       string
	ifindex      int
	queue        int
	burst        int
	maxTx        int // largest frame the device accepts (MTU + Ethernet + VLAN)
	att          *xdpAttachment
	zeroCopy     bool
	closedRxErr  error
	closedTxErr  error
	kernelAtOpen unix.XDPStatistics
	promiscFD    int // AF_PACKET socket holding a promiscuous membership, or 0
	closeOnce    sync.Once
	closeErr     error

	_           [64]byte // receive and transmit halves on their own cache lines
	rxMu        sync.Mutex
	rs          *xsk // receive half (nil once closed)
	registered  bool // socket in the XSKMAP (done on first receive)
	registerErr error
	rx          uint64
	rxInvalid   uint64

	_           [64]byte
	txMu        sync.Mutex
	ts          *xsk // transmit half (same socket; nil once closed)
	tx          uint64
	txOversized uint64
	txRingFull  uint64
	txErrno     unix.Errno
	txErr       error
	_           [64]byte
}

// xdpPromisc puts the device in promiscuous mode for as long as the
// returned socket stays open (the kernel counts memberships and undoes
// them on close, even if we crash). The socket has protocol 0 and so
// receives nothing.
func xdpPromisc(ifindex int) (int, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	mr := unix.PacketMreq{Ifindex: int32(ifindex), Type: unix.PACKET_MR_PROMISC}
	if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mr); err != nil {
		unix.Close(fd)
		return 0, err
	}
	return fd, nil
}

// xdpAttachment is the redirect program attached to one device.
type xdpAttachment struct {
	key     xdpKey
	nl      *xdpNetlink
	prog    *xdp.Program
	hook    *xdpHook
	mode    string // "xdp-native" / "xdp-generic"
	entries int
	refs    int
	queues  map[int]bool
}

type xdpKey struct {
	nsDev, nsIno uint64
	ifindex      int
}

var (
	xdpAttMu sync.Mutex
	xdpAtts  = map[xdpKey]*xdpAttachment{}
)

// openXDP is the MethodXDP opener.
func openXDP(ifname string, opt Options) (Port, error) {
	return OpenXDP(ifname, opt)
}

// OpenXDP opens queue opt.Queue of ifname with AF_XDP. opt.XDPMode selects
// "native" (driver) or "generic" (SKB) XDP; "" tries native and falls back
// to generic when the driver has no XDP support. Port.Mode reports which.
func OpenXDP(ifname string, opt Options) (*XDPPort, error) {
	// Everything below that depends on the network namespace (interface
	// lookup, netlink socket, AF_XDP socket) must happen on one thread.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	cfg, mode, err := xdpConfig(ifname, opt)
	if err != nil {
		return nil, err
	}
	if err := CheckInterface(ifname); err != nil {
		return nil, err
	}
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("%s: %w in this network namespace: check the name with `ip link`", ifname, ErrNoInterface)
	}
	cfg.ifindex = ifi.Index
	xdpRaiseMemlock()

	att, err := xdpAttach(ifname, ifi.Index, cfg.queue, mode, opt.Queues)
	if err != nil {
		return nil, err
	}
	s, err := newXSK(cfg)
	if err != nil {
		xdpDetach(att, cfg.queue)
		return nil, xdpSocketError(ifname, cfg.queue, err)
	}
	p := &XDPPort{
		ifname: ifname, ifindex: ifi.Index, queue: cfg.queue, burst: opt.Burst, att: att,
		rs: s, ts: s, zeroCopy: s.zeroCopy,
		maxTx:       min(ifi.MTU+14+4, int(s.frameSize)),
		closedRxErr: fmt.Errorf("%s: XDP port (queue %d) is closed", ifname, cfg.queue),
	}
	p.closedTxErr = p.closedRxErr
	if ifi.MTU <= 0 {
		p.maxTx = int(s.frameSize)
	}
	if p.burst <= 0 || p.burst > packet.MaxBatch {
		p.burst = packet.MaxBatch
	}
	p.kernelAtOpen, _ = s.stats()
	if opt.Promisc {
		if p.promiscFD, err = xdpPromisc(ifi.Index); err != nil {
			p.Close()
			if xdpIsPerm(err) {
				return nil, PermissionError(ifname, "promiscuous mode", "CAP_NET_RAW", err)
			}
			return nil, fmt.Errorf("%s: cannot enable promiscuous mode (%v): open without PROMISC", ifname, err)
		}
	}
	return p, nil
}

// xdpConfig validates and defaults the options.
func xdpConfig(ifname string, opt Options) (xskConfig, string, error) {
	c := xskConfig{queue: opt.Queue, frameSize: opt.FrameSize}
	if opt.BPFFilter != "" {
		return c, "", fmt.Errorf("%s: METHOD XDP has no BPF filter support: use METHOD PACKET (or AUTO) with a filter", ifname)
	}
	if opt.Sniffer {
		return c, "", fmt.Errorf("%s: METHOD XDP takes frames away from the kernel stack, so it cannot sniff: use METHOD PACKET (or AUTO) with SNIFFER true", ifname)
	}
	if c.queue < 0 {
		return c, "", fmt.Errorf("%s: XDP queue %d is negative: use QUEUE 0 or higher", ifname, c.queue)
	}
	if c.frameSize == 0 {
		c.frameSize = xdpDefaultFrameSize
	}
	if c.frameSize != 2048 && c.frameSize != 4096 {
		return c, "", fmt.Errorf("%s: XDP frame size %d is not supported: use 2048 or 4096", ifname, c.frameSize)
	}
	rf := opt.RingFrames
	if rf == 0 {
		rf = xdpDefaultRingFrames
	}
	if rf < xdpMinRingFrames || rf > xdpMaxRingFrames {
		return c, "", fmt.Errorf("%s: XDP ring frames %d out of range: use %d to %d", ifname, rf, xdpMinRingFrames, xdpMaxRingFrames)
	}
	// UMEM holds rf frames: half for receive (fill/rx rings), half for
	// transmit (tx/completion rings); ring sizes must be powers of two.
	half := 1
	for half*2 <= rf/2 {
		half *= 2
	}
	c.rxFrames, c.txFrames = half, half
	mode := strings.ToLower(strings.TrimSpace(opt.XDPMode))
	switch mode {
	case "", "auto":
		mode = ""
	case "native", "drv", "driver":
		mode = "native"
	case "generic", "skb":
		mode = "generic"
	default:
		return c, "", xdpModeErrorf("%s: unknown XDP mode %q: use native, generic or leave it empty for automatic", ifname, opt.XDPMode)
	}
	return c, mode, nil
}

func xdpRaiseMemlock() {
	// UMEM and BPF maps are charged to RLIMIT_MEMLOCK on older kernels
	// (and without CAP_IPC_LOCK). Best effort.
	lim := unix.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY}
	if unix.Setrlimit(unix.RLIMIT_MEMLOCK, &lim) != nil {
		var cur unix.Rlimit
		if unix.Getrlimit(unix.RLIMIT_MEMLOCK, &cur) == nil && cur.Cur < cur.Max {
			cur.Cur = cur.Max
			_ = unix.Setrlimit(unix.RLIMIT_MEMLOCK, &cur)
		}
	}
}

func xdpNetnsKey() (dev, ino uint64) {
	var st unix.Stat_t
	if unix.Stat("/proc/thread-self/ns/net", &st) == nil {
		return st.Dev, st.Ino
	}
	return 0, 0
}

func xdpIsPerm(err error) bool {
	return errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) ||
		(err != nil && strings.Contains(err.Error(), "operation not permitted"))
}

// xdpAttach attaches (or shares) the redirect program on ifindex and
// reserves queue for the caller.
func xdpAttach(ifname string, ifindex, queue int, mode string, queues int) (*xdpAttachment, error) {
	dev, ino := xdpNetnsKey()
	key := xdpKey{dev, ino, ifindex}
	xdpAttMu.Lock()
	defer xdpAttMu.Unlock()
	if a := xdpAtts[key]; a != nil {
		if mode != "" && "xdp-"+mode != a.mode {
			return nil, xdpModeErrorf("%s: XDP is already attached in %s mode by another queue of this device: use the same XDPMode for every queue", ifname, strings.TrimPrefix(a.mode, "xdp-"))
		}
		if a.queues[queue] {
			return nil, fmt.Errorf("%s: XDP queue %d is already open in this process: share the Port (rings.Acquire) instead of opening it twice", ifname, queue)
		}
		if queue >= a.entries {
			return nil, fmt.Errorf("%s: XDP queue %d is beyond the %d queues the attached program was sized for: open it with Queues > %d on first use", ifname, queue, a.entries, queue)
		}
		a.refs++
		a.queues[queue] = true
		return a, nil
	}

	nl, err := newXDPNetlink()
	if err != nil {
		if xdpIsPerm(err) {
			return nil, PermissionError(ifname, "XDP", xdpCaps, err)
		}
		return nil, fmt.Errorf("%s: cannot open a netlink socket to attach XDP (%v): check that the kernel has CONFIG_XDP_SOCKETS", ifname, err)
	}
	entries := max(xdpMapEntries, queues, queue+1)
	prog, err := xdp.NewProgram(entries)
	if err != nil {
		nl.close()
		if xdpIsPerm(err) {
			return nil, PermissionError(ifname, "loading the XDP program", xdpCaps, err)
		}
		return nil, fmt.Errorf("%s: cannot load the XDP program (%v): check that the kernel has BPF and XDP support, or use METHOD PACKET", ifname, err)
	}
	a := &xdpAttachment{key: key, nl: nl, prog: prog, entries: entries, refs: 1, queues: map[int]bool{queue: true}}
	a.hook, a.mode, err = attachXDPInMode(nl, ifindex, prog.Program.FD(), mode)
	if err != nil {
		prog.Close()
		nl.close()
		return nil, xdpAttachError(ifname, mode, err)
	}
	xdpAtts[key] = a
	return a, nil
}

func xdpAttachError(ifname, mode string, err error) error {
	switch {
	case xdpIsPerm(err):
		return PermissionError(ifname, "attaching an XDP program", xdpCaps, err)
	case errors.Is(err, unix.EBUSY), errors.Is(err, unix.EEXIST):
		return fmt.Errorf("%s: another XDP program is already attached (%v): remove it with `ip link set dev %s xdp off` (and `xdpgeneric off`) or use METHOD PACKET", ifname, err, ifname)
	case mode == "native" && (errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EINVAL)):
		return xdpModeErrorf("%s: the driver does not support native XDP (%v): use XDPMode generic, or leave XDPMode empty to pick it automatically", ifname, err)
	case errors.Is(err, unix.EOPNOTSUPP):
		return xdpModeErrorf("%s: XDP mode %q is not supported by this device or kernel (%v): use METHOD PACKET", ifname, mode, err)
	case errors.Is(err, unix.ERANGE):
		return xdpModeErrorf("%s: the MTU (on veth: the peer's MTU) is too large for %s XDP (%v): lower it to 1500 or so, or use XDPMode generic", ifname, mode, err)
	}
	return fmt.Errorf("%s: attaching the XDP program failed (%v): use METHOD PACKET or check `ip link show dev %s`", ifname, err, ifname)
}

func xdpSocketError(ifname string, queue int, err error) error {
	switch {
	case xdpIsPerm(err):
		return PermissionError(ifname, "an AF_XDP socket", xdpCaps, err)
	case errors.Is(err, unix.EAFNOSUPPORT):
		return fmt.Errorf("%s: the kernel has no AF_XDP sockets (%v): use METHOD PACKET", ifname, err)
	case errors.Is(err, unix.EBUSY):
		return fmt.Errorf("%s: queue %d is already bound by another AF_XDP socket (%v): close the other user or pick another QUEUE", ifname, queue, err)
	case errors.Is(err, unix.EINVAL) && strings.HasPrefix(err.Error(), "bind"):
		return fmt.Errorf("%s: cannot bind AF_XDP to queue %d (%v): check the queue exists (`ethtool -l %s`)", ifname, queue, err, ifname)
	case errors.Is(err, unix.ENOMEM), errors.Is(err, unix.ENOBUFS):
		return fmt.Errorf("%s: not enough locked memory for the XDP UMEM (%v): lower RingFrames or raise `ulimit -l`", ifname, err)
	}
	return fmt.Errorf("%s: AF_XDP socket setup failed (%v): use METHOD PACKET", ifname, err)
}

// xdpDetach releases queue's share of the attachment and removes the
// program when it was the last one.
func xdpDetach(a *xdpAttachment, queue int) error {
	xdpAttMu.Lock()
	defer xdpAttMu.Unlock()
	delete(a.queues, queue)
	a.refs--
	if a.refs > 0 {
		return nil
	}
	if xdpAtts[a.key] == a {
		delete(xdpAtts, a.key)
	}
	err := a.hook.detach()
	a.prog.Close()
	a.nl.close()
	return err
}

// register puts the socket into the XSKMAP so that the program redirects
// the queue's frames to it. Done on first receive, so that a port used only
// for transmission does not take the device's traffic away from the kernel.
func (p *XDPPort) register() error {
	if p.registered {
		return p.registerErr
	}
	p.registered = true
	if err := p.att.prog.Register(p.queue, p.rs.fd); err != nil {
		p.registerErr = fmt.Errorf("%s: cannot register the AF_XDP socket of queue %d with the XDP program (%v): reopen the port", p.ifname, p.queue, err)
	}
	return p.registerErr
}

// StartReceive makes the program redirect the queue's frames to this port
// now. RecvBatch and Wait do it on first use; until then the device's
// traffic goes to the kernel stack as before, so a port that only
// transmits (ToDevice without FromDevice) takes nothing away from it.
func (p *XDPPort) StartReceive() error {
	p.rxMu.Lock()
	defer p.rxMu.Unlock()
	if p.rs == nil {
		return p.closedRxErr
	}
	return p.register()
}

// xdpUnregister undoes Program.Register. asavie's Unregister deletes from
// the qidconf array map, which the kernel refuses (EINVAL: array entries
// cannot be deleted); we zero the entry instead, then drop the socket.
func xdpUnregister(prog *xdp.Program, queue int) error {
	if err := prog.Queues.Put(uint32(queue), uint32(0)); err != nil {
		return err
	}
	if err := prog.Sockets.Delete(uint32(queue)); err != nil && !errors.Is(err, unix.ENOENT) {
		return err
	}
	return nil
}

// RecvBatch appends up to max received frames to b, copied out of the UMEM
// into packets from pool. It never blocks (see Wait).
func (p *XDPPort) RecvBatch(pool *packet.Pool, b *packet.Batch, max int) (int, error) {
	if max > p.burst {
		max = p.burst
	}
	if room := packet.MaxBatch - b.N; max > room {
		max = room
	}
	p.rxMu.Lock()
	s := p.rs
	if s == nil {
		p.rxMu.Unlock()
		return 0, p.closedRxErr
	}
	if !p.registered {
		if err := p.register(); err != nil {
			p.rxMu.Unlock()
			return 0, err
		}
	}
	if max <= 0 {
		p.rxMu.Unlock()
		return 0, nil
	}
	n := s.rxPeek(uint32(max))
	if n == 0 {
		s.rxWakeup()
		p.rxMu.Unlock()
		return 0, nil
	}
	got := 0
	for i := uint32(0); i < n; i++ {
		f := s.frame(s.rxDesc(i))
		if f == nil {
			p.rxInvalid++
			continue
		}
		pk := pool.New(len(f))
		copy(pk.Data(), f)
		b.P[b.N] = pk
		b.N++
		got++
	}
	s.rxRecycle(n)
	s.rxWakeup()
	p.rx += uint64(got)
	p.rxMu.Unlock()
	return got, nil
}

// Wait blocks until frames are ready to receive or the timeout passes
// (negative: no timeout). It reports whether frames are ready, and returns
// an error once the port is closed.
func (p *XDPPort) Wait(timeout time.Duration) (bool, error) {
	var deadline time.Time
	if timeout >= 0 {
		deadline = time.Now().Add(timeout)
	}
	for {
		p.rxMu.Lock()
		s := p.rs
		if s == nil {
			p.rxMu.Unlock()
			return false, p.closedRxErr
		}
		if err := p.register(); err != nil {
			p.rxMu.Unlock()
			return false, err
		}
		if s.rx.avail(1) > 0 {
			p.rxMu.Unlock()
			return true, nil
		}
		fd := s.fd
		p.rxMu.Unlock()
		// Poll without the lock, in slices of at most 100 ms: closing an
		// fd does not wake a poll on it, so a concurrent Close is noticed
		// at the next slice.
		slice := 100 * time.Millisecond
		if !deadline.IsZero() {
			left := time.Until(deadline)
			if left <= 0 {
				return false, nil
			}
			slice = min(slice, left)
		}
		ms := int((slice + time.Millisecond - 1) / time.Millisecond)
		fds := [1]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds[:], ms)
		if err != nil && err != unix.EINTR {
			return false, fmt.Errorf("%s: poll on the AF_XDP socket failed (%v): reopen the port", p.ifname, err)
		}
		if n > 0 && fds[0].Revents&unix.POLLIN != 0 {
			return true, nil
		}
	}
}

// SendBatch copies b's packets into the UMEM, transmits them and frees
// them to pool. Packets larger than the device takes, or that find the
// transmit ring full even after draining it, are dropped and counted.
func (p *XDPPort) SendBatch(pool *packet.Pool, b *packet.Batch) (int, error) {
	p.txMu.Lock()
	s := p.ts
	if s == nil {
		p.txMu.Unlock()
		pool.FreeBatch(b)
		return 0, p.closedTxErr
	}
	s.txReclaim()
	sent := 0
	var errno error
	for i := 0; i < b.N; i++ {
		d := b.P[i].Data()
		if len(d) > p.maxTx {
			p.txOversized++
			continue
		}
		if !s.txPut(d) {
			if e := s.txFlush(); e != nil {
				errno = e
			}
			if !s.txPut(d) {
				p.txRingFull++
				continue
			}
		}
		sent++
	}
	if e := s.txFlush(); e != nil {
		errno = e
	}
	p.tx += uint64(sent)
	var err error
	if errno != nil {
		err = p.txError(errno)
	}
	p.txMu.Unlock()
	pool.FreeBatch(b)
	return sent, err
}

// txError builds (once per errno) the error for a failed kick.
func (p *XDPPort) txError(e error) error {
	en, _ := e.(unix.Errno)
	if p.txErr == nil || en != p.txErrno {
		p.txErrno = en
		hint := "check `ip link show dev " + p.ifname + "`"
		if en == unix.ENETDOWN || en == unix.ENXIO {
			hint = "bring it up with `ip link set dev " + p.ifname + " up`"
		}
		p.txErr = fmt.Errorf("%s: AF_XDP transmit failed (%v): %s", p.ifname, e, hint)
	}
	return p.txErr
}

// Flush kicks out frames still queued in the transmit ring (after a burst
// that found the device busy).
func (p *XDPPort) Flush() error {
	p.txMu.Lock()
	defer p.txMu.Unlock()
	if p.ts == nil {
		return p.closedTxErr
	}
	if e := p.ts.txFlush(); e != nil {
		return p.txError(e)
	}
	return nil
}

// Method is MethodXDP.
func (p *XDPPort) Method() Method { return MethodXDP }

// Mode is "xdp-native" or "xdp-generic".
func (p *XDPPort) Mode() string { return p.att.mode }

// ZeroCopy reports whether the kernel bound the socket in zero-copy mode
// (never on veth; generic mode is always copy mode).
func (p *XDPPort) ZeroCopy() bool { return p.zeroCopy }

// Queue is the device queue the port is bound to.
func (p *XDPPort) Queue() int { return p.queue }

// Ifname is the device name.
func (p *XDPPort) Ifname() string { return p.ifname }

// Stats returns the port's counters. KernelDrops are frames the kernel
// could not deliver to the socket (rx ring full or no fill buffer).
func (p *XDPPort) Stats() Stats {
	st := Stats{DropReasons: map[string]uint64{}}
	p.rxMu.Lock()
	st.RX = p.rx
	st.RXDrops = p.rxInvalid
	if p.rxInvalid > 0 {
		st.DropReasons["invalid-descriptor"] = p.rxInvalid
	}
	var ks unix.XDPStatistics
	var kerr error = errors.New("closed")
	if p.rs != nil {
		ks, kerr = p.rs.stats()
	}
	p.rxMu.Unlock()
	p.txMu.Lock()
	st.TX = p.tx
	st.TXDrops = p.txOversized + p.txRingFull
	if p.txOversized > 0 {
		st.DropReasons["oversized"] = p.txOversized
	}
	if p.txRingFull > 0 {
		st.DropReasons["ring-full"] = p.txRingFull
	}
	p.txMu.Unlock()
	if kerr == nil {
		k0 := p.kernelAtOpen
		rxDropped := ks.Rx_dropped - k0.Rx_dropped
		ringFull := ks.Rx_ring_full - k0.Rx_ring_full
		st.KernelDrops = rxDropped + ringFull
		put := func(k string, v uint64) {
			if v > 0 {
				st.DropReasons[k] = v
			}
		}
		put("xsk-rx-dropped", rxDropped)
		put("xsk-rx-ring-full", ringFull)
		put("xsk-fill-ring-empty", ks.Rx_fill_ring_empty_descs-k0.Rx_fill_ring_empty_descs)
		put("xsk-rx-invalid", ks.Rx_invalid_descs-k0.Rx_invalid_descs)
		put("xsk-tx-invalid", ks.Tx_invalid_descs-k0.Tx_invalid_descs)
	}
	return st
}

// Close unregisters the socket, closes it and detaches the program when
// this was the device's last XDP port. Safe to call more than once.
func (p *XDPPort) Close() error {
	p.closeOnce.Do(func() {
		p.rxMu.Lock()
		p.txMu.Lock()
		s := p.rs
		wasRegistered := p.registered && p.registerErr == nil
		p.rs, p.ts = nil, nil
		p.txMu.Unlock()
		p.rxMu.Unlock()
		if s == nil {
			return
		}
		var errs []error
		if wasRegistered {
			if err := xdpUnregister(p.att.prog, p.queue); err != nil {
				errs = append(errs, err)
			}
		}
		if err := s.close(); err != nil {
			errs = append(errs, err)
		}
		if p.promiscFD > 0 {
			unix.Close(p.promiscFD)
			p.promiscFD = 0
		}
		if err := xdpDetach(p.att, p.queue); err != nil {
			errs = append(errs, fmt.Errorf("%s: detaching the XDP program failed (%v): remove it with `ip link set dev %s xdp off`", p.ifname, err, p.ifname))
		}
		p.closeErr = errors.Join(errs...)
	})
	return p.closeErr
}
