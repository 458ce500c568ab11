package rings

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"flowbox/appliance/packet"
)

// The PACKET method: AF_PACKET sockets with mmap'd TPACKET_V2 rings, one
// socket for receive (RX ring) and one for transmit (TX ring, qdisc bypass,
// one sendto kick per batch). V2 rather than V3: V3's block-retire timeout
// adds latency to a forwarding path (kohler/click#209, gVisor#10966).
//
// Receive and transmit use disjoint state, so one goroutine may receive
// while another transmits on the same Port (FromDevice and ToDevice on the
// same device sharing a registry entry on different workers); counters are
// atomics.

func init() { RegisterOpener(MethodPacket, openPacket) }

const (
	tpHdrLen      = 32 // sizeof(struct tpacket2_hdr), already TPACKET_ALIGNed
	tpTxDataOff   = tpHdrLen
	tpStatusUser  = unix.TP_STATUS_USER
	tpStatusVLAN  = unix.TP_STATUS_VLAN_VALID
	tpStatusVTPID = 0x40 // TP_STATUS_VLAN_TPID_VALID
	tpSendRequest = unix.TP_STATUS_SEND_REQUEST
	tpSending     = unix.TP_STATUS_SENDING
	tpWrongFormat = unix.TP_STATUS_WRONG_FORMAT
	ethHdrLen     = 14
	maxRXCopy     = packet.BufSize - packet.Headroom // largest frame a pooled buffer holds
	defaultFrame  = 2048
	defaultFrames = 4096
	defaultBurst  = 64
	blockSize     = 1 << 16
)

// tpacket2Hdr mirrors struct tpacket2_hdr.
type tpacket2Hdr struct {
	status   uint32
	len      uint32
	snaplen  uint32
	mac      uint16
	net      uint16
	sec      uint32
	nsec     uint32
	vlanTCI  uint16
	vlanTPID uint16
	_padding [4]byte
}

// ring is one mmap'd TPACKET_V2 ring.
type ring struct {
	mem       []byte
	frameSize int
	frames    int
	next      int
}

func (r *ring) hdr(i int) *tpacket2Hdr {
	return (*tpacket2Hdr)(unsafe.Pointer(&r.mem[i*r.frameSize]))
}

// counters are shared between the receiving and the sending goroutine.
type counters struct {
	rx, tx, rxDrops, txDrops atomic.Uint64
	// drop reasons (RX and TX)
	rxOversized, rxTruncated, rxRunt  atomic.Uint64
	rxCsumDone, rxCsumBad, rxGSO      atomic.Uint64
	txOversized, txRunt, txRingFull   atomic.Uint64
	txWrongFormat, txKickErr, txClose atomic.Uint64
}

// PacketPort is a TPACKET_V2 Port (MethodPacket).
type PacketPort struct {
	ifname  string
	ifindex int
	mtu     int
	opt     Options

	rxfd int
	rx   ring
	// vnet: the RX socket has PACKET_VNET_HDR, so each ring frame is
	// preceded by a struct virtio_net_hdr (checksum offload state).
	vnet bool
	txfd int
	tx   ring
	// txMaxLen is the longest frame the TX ring and the MTU allow.
	txMaxLen int
	txFailed packet.Batch // scratch for SendBatch

	c counters

	mu          sync.Mutex // guards the RX setup state and kernel stats
	rxStarted   atomic.Bool
	kernelDrops uint64
	kernelPkts  uint64
	promisc     bool
	block       func() error // removes the SNIFFER false kernel block
	closed      atomic.Bool
	// shed drops frames in XDP while the RX ring is backed up (SHED);
	// shedding mirrors its switch so RecvBatch stores only on changes.
	shed     *xdpShedder
	shedding bool
	// shedMode and shedDrops (guarded by mu) outlive Close for handlers.
	shedMode  string
	shedDrops uint64
}

// RXStarter is implemented by ports whose receive side starts on demand.
// FromDevice calls StartRX after acquiring the port, with its own options
// (PROMISC, SNIFFER, BPF filter, fanout group), so a port first opened by
// a ToDevice does not receive (and copy) frames nobody reads.
type RXStarter interface {
	StartRX(opt Options) error
}

// Waiter is implemented by ports that can block until frames arrive.
type Waiter interface {
	// WaitRX blocks up to timeoutMs milliseconds for a received frame.
	WaitRX(timeoutMs int) bool
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func sysErr(ifname, what string, err error) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return PermissionError(ifname, what, "CAP_NET_RAW", err)
	}
	return fmt.Errorf("%s: %s failed: %v", ifname, what, err)
}

func openPacket(ifname string, opt Options) (Port, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("%s: %w in this network namespace: check the name with `ip link` (or run flowbox in the namespace that owns it)", ifname, ErrNoInterface)
	}
	if opt.FrameSize == 0 {
		opt.FrameSize = defaultFrame
	}
	if opt.RingFrames == 0 {
		opt.RingFrames = defaultFrames
	}
	if opt.Burst <= 0 {
		opt.Burst = defaultBurst
	}
	if opt.FrameSize < 256 || opt.FrameSize%unix.TPACKET_ALIGNMENT != 0 || blockSize%opt.FrameSize != 0 {
		return nil, fmt.Errorf("%s: frame size %d is not a power of two between 256 and %d: use the default 2048", ifname, opt.FrameSize, blockSize)
	}
	p := &PacketPort{ifname: ifname, ifindex: ifi.Index, mtu: ifi.MTU, opt: opt, rxfd: -1, txfd: -1}
	p.txMaxLen = opt.FrameSize - tpTxDataOff
	if m := p.mtu + ethHdrLen + 4; p.txMaxLen > m {
		p.txMaxLen = m // + 4: room for one VLAN tag
	}
	if err := p.openRX(); err != nil {
		p.Close()
		return nil, err
	}
	if err := p.openTX(); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

func newPacketSocket(ifname string) (int, error) {
	// Protocol 0: the socket receives nothing until it is bound with
	// ETH_P_ALL (StartRX), so a filter can be attached first.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, sysErr(ifname, "opening an AF_PACKET socket", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V2); err != nil {
		unix.Close(fd)
		return -1, sysErr(ifname, "selecting TPACKET_V2", err)
	}
	return fd, nil
}

func (p *PacketPort) setupRing(fd int, opt int, r *ring) error {
	fs := p.opt.FrameSize
	frames := p.opt.RingFrames
	perBlock := blockSize / fs
	blocks := (frames + perBlock - 1) / perBlock
	frames = blocks * perBlock
	req := unix.TpacketReq{Block_size: blockSize, Block_nr: uint32(blocks), Frame_size: uint32(fs), Frame_nr: uint32(frames)}
	if err := unix.SetsockoptTpacketReq(fd, unix.SOL_PACKET, opt, &req); err != nil {
		return sysErr(p.ifname, "setting up a TPACKET ring", err)
	}
	mem, err := unix.Mmap(fd, 0, blocks*blockSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return sysErr(p.ifname, "mapping the TPACKET ring", err)
	}
	*r = ring{mem: mem, frameSize: fs, frames: frames}
	return nil
}

func (p *PacketPort) bind(fd int, proto uint16) error {
	sa := &unix.SockaddrLinklayer{Protocol: htons(proto), Ifindex: p.ifindex}
	if err := unix.Bind(fd, sa); err != nil {
		if errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENXIO) {
			return fmt.Errorf("%s: the interface disappeared or is down: bring it up with `ip link set %s up`", p.ifname, p.ifname)
		}
		return sysErr(p.ifname, "binding the AF_PACKET socket", err)
	}
	return nil
}

func (p *PacketPort) openRX() error {
	fd, err := newPacketSocket(p.ifname)
	if err != nil {
		return err
	}
	p.rxfd = fd
	// Our own transmissions (and other local senders') are not input.
	_ = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1)
	// A frame a local sender put on a veth (or a tap/bridge) may still
	// carry its offloaded TCP/UDP checksum unfinished (CHECKSUM_PARTIAL):
	// the ring gets the bytes with only the pseudo-header sum in the
	// checksum field. With PACKET_VNET_HDR the kernel tells us so in a
	// virtio_net_hdr before each frame, and RecvBatch finishes the
	// checksum; otherwise the next hop drops the frame. It must be set
	// before the ring exists; a kernel without it keeps the old format.
	if unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VNET_HDR, 1) == nil {
		p.vnet = true
	}
	if err := p.setupRing(fd, unix.PACKET_RX_RING, &p.rx); err != nil {
		return err
	}
	return p.bind(fd, 0)
}

func (p *PacketPort) openTX() error {
	fd, err := newPacketSocket(p.ifname)
	if err != nil {
		return err
	}
	p.txfd = fd
	_ = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1)
	// Skip malformed frames instead of stopping the whole ring.
	_ = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_LOSS, 1)
	if err := p.setupRing(fd, unix.PACKET_TX_RING, &p.tx); err != nil {
		return err
	}
	return p.bind(fd, 0)
}

// fanoutID is the PACKET_FANOUT group id for a device: the same for every
// queue of one device in this process, different across processes.
func fanoutID(ifindex int) uint16 {
	return uint16(os.Getpid()*31+ifindex) & 0xffff
}

// StartRX arms the receive side with opt's receive settings: BPF filter,
// ETH_P_ALL binding, PACKET_FANOUT (Queues > 1), promiscuous membership and
// the SNIFFER false kernel block. It is idempotent; only the first call's
// settings apply. RecvBatch calls it with the open options if nobody did.
func (p *PacketPort) StartRX(opt Options) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.rxStarted.Load() {
		return nil
	}
	if p.closed.Load() {
		return fmt.Errorf("%s: port is closed", p.ifname)
	}
	if opt.BPFFilter != "" {
		prog, err := CompileFilter(opt.BPFFilter)
		if err != nil {
			return fmt.Errorf("%s: BPF_FILTER %q: %v", p.ifname, opt.BPFFilter, err)
		}
		if err := attachFilter(p.rxfd, prog); err != nil {
			return sysErr(p.ifname, "attaching the BPF filter", err)
		}
	}
	if err := p.bind(p.rxfd, unix.ETH_P_ALL); err != nil {
		return err
	}
	if opt.Queues > 1 {
		arg := int(fanoutID(p.ifindex)) | (unix.PACKET_FANOUT_HASH|unix.PACKET_FANOUT_FLAG_DEFRAG)<<16
		if err := unix.SetsockoptInt(p.rxfd, unix.SOL_PACKET, unix.PACKET_FANOUT, arg); err != nil {
			return sysErr(p.ifname, fmt.Sprintf("joining PACKET_FANOUT group %d", fanoutID(p.ifindex)), err)
		}
	}
	if opt.Promisc {
		mreq := unix.PacketMreq{Ifindex: int32(p.ifindex), Type: unix.PACKET_MR_PROMISC}
		if err := unix.SetsockoptPacketMreq(p.rxfd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
			return sysErr(p.ifname, "enabling promiscuous mode", err)
		}
		p.promisc = true
	}
	if !opt.Sniffer {
		undo, err := blockKernelRX(p.ifname)
		if err != nil {
			return err
		}
		p.block = undo
	}
	if opt.Shed {
		s, err := acquireShedder(p.ifname, p.ifindex)
		if err != nil {
			return err
		}
		p.shed, p.shedMode = s, s.mode
	}
	p.rxStarted.Store(true)
	return nil
}

// RecvBatch implements Port: it copies up to max ready frames out of the
// RX ring into packets from pool and appends them to b. Frames that do not
// fit a pooled buffer, were truncated by the ring, or are shorter than an
// Ethernet header are counted and dropped. No allocation.
func (p *PacketPort) RecvBatch(pool *packet.Pool, b *packet.Batch, max int) (int, error) {
	if p.closed.Load() {
		return 0, os.ErrClosed
	}
	if !p.rxStarted.Load() {
		o := p.opt
		o.Sniffer = true
		if err := p.StartRX(o); err != nil {
			return 0, err
		}
	}
	if room := packet.MaxBatch - b.N; max > room {
		max = room
	}
	r := &p.rx
	got, drops := 0, 0
	for got < max {
		h := r.hdr(r.next)
		st := atomic.LoadUint32(&h.status)
		if st&tpStatusUser == 0 {
			break
		}
		snap, wire, mac := int(h.snaplen), int(h.len), int(h.mac)
		vlan := st&tpStatusVLAN != 0
		extra := 0
		if vlan {
			extra = 4
		}
		switch {
		case wire > snap || mac+snap > r.frameSize:
			p.c.rxTruncated.Add(1)
			if p.vnet && mac >= vnetHdrLen && r.mem[r.next*r.frameSize+mac-vnetHdrLen+1] != 0 {
				// a GSO super-frame (a local TCP/UDP sender's
				// segmentation offload): larger than the ring frame
				p.c.rxGSO.Add(1)
			}
			drops++
		case snap+extra > maxRXCopy:
			p.c.rxOversized.Add(1)
			drops++
		case snap < ethHdrLen:
			p.c.rxRunt.Add(1)
			drops++
		default:
			base := r.next * r.frameSize
			src := r.mem[base+mac : base+mac+snap]
			pk := pool.New(snap + extra)
			d := pk.Data()
			if vlan {
				// The kernel moved the 802.1Q tag into the header:
				// put it back so the frame is forwarded unchanged.
				copy(d, src[:12])
				tpid := uint16(0x8100)
				if st&tpStatusVTPID != 0 && h.vlanTPID != 0 {
					tpid = h.vlanTPID
				}
				d[12], d[13] = byte(tpid>>8), byte(tpid)
				d[14], d[15] = byte(h.vlanTCI>>8), byte(h.vlanTCI)
				copy(d[16:], src[12:])
			} else {
				copy(d, src)
			}
			if p.vnet && mac >= vnetHdrLen {
				p.vnetRX(r.mem[base+mac-vnetHdrLen:base+mac], d, extra)
			}
			pk.SetMacAt(0)
			b.P[b.N] = pk
			b.N++
			got++
		}
		atomic.StoreUint32(&h.status, unix.TP_STATUS_KERNEL)
		r.next++
		if r.next == r.frames {
			r.next = 0
		}
	}
	if got > 0 {
		p.c.rx.Add(uint64(got))
	}
	if drops > 0 {
		p.c.rxDrops.Add(uint64(drops))
	}
	if p.shed != nil {
		p.updateShed()
	}
	return got, nil
}

// updateShed switches XDP shedding on when the RX ring is 3/4 full and off
// once it has drained below 1/4 (two loads of frame status words).
func (p *PacketPort) updateShed() {
	r := &p.rx
	if !p.shedding {
		if atomic.LoadUint32(&r.hdr((r.next+r.frames*3/4)%r.frames).status)&tpStatusUser != 0 {
			p.shedding = true
			p.shed.backedUp(true)
		}
	} else if atomic.LoadUint32(&r.hdr((r.next+r.frames/4)%r.frames).status)&tpStatusUser == 0 {
		p.shedding = false
		p.shed.backedUp(false)
	}
}

// virtio_net_hdr (PACKET_VNET_HDR, little-endian on every host flowbox
// runs on: the legacy format uses native byte order).
const (
	vnetHdrLen       = 10
	vnetFNeedsCsum   = 1 // VIRTIO_NET_HDR_F_NEEDS_CSUM
	vnetOffFlags     = 0
	vnetOffCsumStart = 6
	vnetOffCsumOff   = 8
)

// vnetRX applies the virtio_net_hdr h of a received frame to its copy d:
// when the kernel left the L4 checksum to offload (NEEDS_CSUM), the
// checksum is computed here, as skb_checksum_help does: the one's
// complement sum from csum_start to the end of the frame (the checksum
// field holds the pseudo-header sum) is stored, complemented, at
// csum_start+csum_offset. shift is the length of a VLAN tag put back in
// front of the offsets. No allocation.
func (p *PacketPort) vnetRX(h []byte, d []byte, shift int) {
	if h[vnetOffFlags]&vnetFNeedsCsum == 0 {
		return
	}
	start := int(h[vnetOffCsumStart]) | int(h[vnetOffCsumStart+1])<<8 + shift
	at := start + (int(h[vnetOffCsumOff]) | int(h[vnetOffCsumOff+1])<<8)
	if start < ethHdrLen || at+2 > len(d) {
		p.c.rxCsumBad.Add(1)
		return
	}
	cs := ^fold(sum16(d[start:]))
	if cs == 0 {
		cs = 0xffff // CSUM_MANGLED_0: 0 means "no checksum" to UDP
	}
	d[at], d[at+1] = byte(cs>>8), byte(cs)
	p.c.rxCsumDone.Add(1)
}

// sum16 is the unfolded one's complement sum of b as big-endian 16-bit
// words (an odd last byte is padded with zero).
func sum16(b []byte) uint64 {
	var s uint64
	for len(b) >= 8 {
		s += uint64(b[0])<<8 | uint64(b[1])
		s += uint64(b[2])<<8 | uint64(b[3])
		s += uint64(b[4])<<8 | uint64(b[5])
		s += uint64(b[6])<<8 | uint64(b[7])
		b = b[8:]
	}
	for len(b) >= 2 {
		s += uint64(b[0])<<8 | uint64(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint64(b[0]) << 8
	}
	return s
}

// fold folds a one's complement sum to 16 bits.
func fold(s uint64) uint16 {
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return uint16(s)
}

// WaitRX implements Waiter: poll(2) on the RX socket.
func (p *PacketPort) WaitRX(timeoutMs int) bool {
	if atomic.LoadUint32(&p.rx.hdr(p.rx.next).status)&tpStatusUser != 0 {
		return true
	}
	fds := [1]unix.PollFd{{Fd: int32(p.rxfd), Events: unix.POLLIN}}
	n, _ := unix.Poll(fds[:], timeoutMs)
	return n > 0
}

// SendBatch implements Port.
func (p *PacketPort) SendBatch(pool *packet.Pool, b *packet.Batch) (int, error) {
	failed := &p.txFailed
	failed.N = 0
	n, err := p.SendBatchKeep(b, failed)
	pool.FreeBatch(b)
	pool.FreeBatch(failed)
	return n, err
}

// SendKeeper is implemented by ports that can tell which packets were sent:
// SendBatchKeep copies b's packets into the device's TX queue without freeing
// them; on return b holds the packets sent and failed the ones that were
// not (oversized, runt, ring full), in order. Failed ones are counted as TX
// drops by reason.
type SendKeeper interface {
	SendBatchKeep(b, failed *packet.Batch) (int, error)
}

// SendBatchKeep implements SendKeeper. No allocation.
func (p *PacketPort) SendBatchKeep(b, failed *packet.Batch) (int, error) {
	if p.closed.Load() {
		for i := 0; i < b.N; i++ {
			failed.Append(b.P[i])
		}
		p.c.txClose.Add(uint64(b.N))
		p.c.txDrops.Add(uint64(b.N))
		b.Reset()
		return 0, os.ErrClosed
	}
	r := &p.tx
	sent, j := 0, 0
	for i := 0; i < b.N; i++ {
		pk := b.P[i]
		n := pk.Len()
		ok := false
		switch {
		case n > p.txMaxLen:
			p.c.txOversized.Add(1)
		case n < ethHdrLen:
			p.c.txRunt.Add(1)
		default:
			h := r.hdr(r.next)
			st := atomic.LoadUint32(&h.status)
			if st == tpWrongFormat {
				// The kernel rejected this slot's previous frame.
				p.c.txWrongFormat.Add(1)
				atomic.StoreUint32(&h.status, unix.TP_STATUS_AVAILABLE)
				st = unix.TP_STATUS_AVAILABLE
			}
			if st&(tpSendRequest|tpSending) != 0 {
				// Ring full: kick once so the kernel drains it, then
				// look again before giving up on the frame.
				p.kick()
				st = atomic.LoadUint32(&h.status)
			}
			if st&(tpSendRequest|tpSending) != 0 {
				p.c.txRingFull.Add(1)
				break
			}
			base := r.next * r.frameSize
			copy(r.mem[base+tpTxDataOff:base+tpTxDataOff+n], pk.Data())
			h.len = uint32(n)
			h.snaplen = uint32(n)
			atomic.StoreUint32(&h.status, tpSendRequest)
			r.next++
			if r.next == r.frames {
				r.next = 0
			}
			ok = true
		}
		if ok {
			b.P[j] = pk
			j++
			sent++
		} else {
			failed.Append(pk)
		}
	}
	clear(b.P[j:b.N])
	b.N = j
	var err error
	if sent > 0 {
		err = p.kick()
		p.c.tx.Add(uint64(sent))
	}
	if f := failed.N; f > 0 {
		p.c.txDrops.Add(uint64(f))
	}
	return sent, err
}

// kick asks the kernel to transmit every SEND_REQUEST frame.
//
// It is a raw syscall: with MSG_DONTWAIT the sendto never blocks, but it
// can run for a long time (it transmits the whole batch, and the softirq
// work that raises, such as the receive side of a veth peer or RPS
// backlog, runs on the way out). A non-raw syscall that long lets sysmon
// retake the P and hand it to another thread; with GOMAXPROCS=1 (a worker
// per core) the worker then has to get it back through the scheduler on
// return: thread switches per kick under load, each one a chance for
// ksoftirqd to take the core. With Syscall6 flowbox PACKET tipped into
// the AF_PACKET receive livelock at a lower load than the bare loop in
// `make bench-io` layout A (peak 0.87x the bare loop's; 1.01-1.06x raw).
func (p *PacketPort) kick() error {
	_, _, e := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(p.txfd), 0, 0, unix.MSG_DONTWAIT, 0, 0)
	switch e {
	case 0, unix.EAGAIN, unix.ENOBUFS:
		// EAGAIN/ENOBUFS: the device queue is busy; the frames stay in
		// the ring and go with the next kick.
		return nil
	}
	p.c.txKickErr.Add(1)
	return e
}

// Method implements Port.
func (p *PacketPort) Method() Method { return MethodPacket }

// Mode implements Port.
func (p *PacketPort) Mode() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shedMode != "" {
		return "tpacket_v2+shed-" + p.shedMode
	}
	return "tpacket_v2"
}

// Stats implements Port. KernelDrops are frames the kernel could not put
// in the RX ring (PACKET_STATISTICS tp_drops, accumulated).
func (p *PacketPort) Stats() Stats {
	p.mu.Lock()
	if p.rxfd >= 0 && !p.closed.Load() {
		if ks, err := unix.GetsockoptTpacketStats(p.rxfd, unix.SOL_PACKET, unix.PACKET_STATISTICS); err == nil {
			p.kernelDrops += uint64(ks.Drops)
			p.kernelPkts += uint64(ks.Packets)
		}
	}
	if p.shed != nil {
		p.shedDrops = p.shed.Dropped()
	}
	kd, sd := p.kernelDrops, p.shedDrops
	p.mu.Unlock()
	s := Stats{
		RX: p.c.rx.Load(), TX: p.c.tx.Load(),
		RXDrops: p.c.rxDrops.Load(), TXDrops: p.c.txDrops.Load(),
		KernelDrops: kd, Shed: sd,
		DropReasons: map[string]uint64{},
	}
	add := func(name string, v *atomic.Uint64) {
		if n := v.Load(); n > 0 {
			s.DropReasons[name] = n
		}
	}
	add("rx-oversized", &p.c.rxOversized)
	add("rx-truncated", &p.c.rxTruncated)
	add("rx-runt", &p.c.rxRunt)
	add("rx-gso", &p.c.rxGSO)
	add("rx-csum-bad-offset", &p.c.rxCsumBad)
	add("tx-oversized", &p.c.txOversized)
	add("tx-runt", &p.c.txRunt)
	add("tx-ring-full", &p.c.txRingFull)
	add("tx-wrong-format", &p.c.txWrongFormat)
	add("tx-closed", &p.c.txClose)
	if n := p.c.txKickErr.Load(); n > 0 {
		s.DropReasons["tx-kick-errors"] = n // errors, not packets
	}
	if kd > 0 {
		s.DropReasons["kernel-ring-full"] = kd
	}
	return s
}

// Fd returns the RX and TX socket descriptors (tests, diagnostics).
func (p *PacketPort) Fd() (rx, tx int) { return p.rxfd, p.txfd }

// Close implements Port. The caller must make sure no goroutine is inside
// RecvBatch or SendBatch (the registry closes a port only when its last
// holder released it).
func (p *PacketPort) Close() error {
	if p.closed.Swap(true) {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.block != nil {
		_ = p.block()
		p.block = nil
	}
	if p.shed != nil {
		p.shedDrops = p.shed.Dropped()
		if p.shedding {
			p.shed.backedUp(false)
		}
		_ = releaseShedder(p.shed)
		p.shed = nil
	}
	if p.txfd >= 0 && p.tx.mem != nil {
		// Let queued frames leave before the ring goes away.
		p.kick()
	}
	for _, r := range []*ring{&p.rx, &p.tx} {
		if r.mem != nil {
			unix.Munmap(r.mem)
			r.mem = nil
		}
	}
	for _, fd := range []*int{&p.rxfd, &p.txfd} {
		if *fd >= 0 {
			unix.Close(*fd)
			*fd = -1
		}
	}
	return nil
}

// ChecksumsCompleted is how many received frames had their TCP/UDP
// checksum finished in software because the kernel handed them over with
// it left to offload (PACKET_VNET_HDR NEEDS_CSUM; tests, diagnostics).
func (p *PacketPort) ChecksumsCompleted() uint64 { return p.c.rxCsumDone.Load() }

// VnetHdr reports whether the RX socket uses PACKET_VNET_HDR.
func (p *PacketPort) VnetHdr() bool { return p.vnet }
