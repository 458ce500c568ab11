//go:build linux

package rings

import (
	"errors"
	"fmt"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// xsk is one AF_XDP socket bound to one queue of one device, with its own
// UMEM. The UMEM is split in two: the first rxFrames chunks only ever
// circulate fill → rx → (copied out) → fill, the other txFrames chunks
// live on a free stack and circulate stack → tx → completion → stack. So
// the receive side and the transmit side share no state and may be driven
// by two different goroutines (one each).
type xsk struct {
	fd        int
	umem      []byte
	frameSize uint64
	frameMask uint64 // ^(frameSize-1): chunk base of any address inside it

	fill xdpAddrRing
	rx   xdpDescRing
	tx   xdpDescRing
	comp xdpAddrRing

	rxFrames uint32
	txFrames uint32
	txFree   []uint64 // free tx chunk addresses (stack)

	zeroCopy bool
}

// xskConfig sizes a socket.
type xskConfig struct {
	ifindex   int
	queue     int
	frameSize int // power of two, 2048..4096 (aligned chunk mode)
	rxFrames  int // power of two
	txFrames  int // power of two
}

// newXSK creates, maps and binds an AF_XDP socket. The fill ring is fully
// populated before bind, so the kernel has buffers from the first packet
// on (and drivers that insist on a populated fill ring even for TX-only
// use are satisfied).
func newXSK(c xskConfig) (_ *xsk, err error) {
	fd, err := unix.Socket(unix.AF_XDP, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, &xskError{"socket(AF_XDP)", err}
	}
	s := &xsk{fd: fd, frameSize: uint64(c.frameSize), frameMask: ^uint64(c.frameSize - 1),
		rxFrames: uint32(c.rxFrames), txFrames: uint32(c.txFrames)}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	total := (c.rxFrames + c.txFrames) * c.frameSize
	s.umem, err = unix.Mmap(-1, 0, total, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_POPULATE)
	if err != nil {
		return nil, &xskError{"mmap UMEM", err}
	}
	reg := unix.XDPUmemReg{
		Addr: uint64(uintptr(unsafe.Pointer(&s.umem[0]))),
		Len:  uint64(total),
		Size: uint32(c.frameSize),
	}
	if err := xdpSetsockopt(fd, unix.XDP_UMEM_REG, unsafe.Pointer(&reg), unsafe.Sizeof(reg)); err != nil {
		return nil, &xskError{"XDP_UMEM_REG", err}
	}
	for _, o := range []struct {
		opt int
		n   int
		nm  string
	}{
		{unix.XDP_UMEM_FILL_RING, c.rxFrames, "XDP_UMEM_FILL_RING"},
		{unix.XDP_UMEM_COMPLETION_RING, c.txFrames, "XDP_UMEM_COMPLETION_RING"},
		{unix.XDP_RX_RING, c.rxFrames, "XDP_RX_RING"},
		{unix.XDP_TX_RING, c.txFrames, "XDP_TX_RING"},
	} {
		if err := unix.SetsockoptInt(fd, unix.SOL_XDP, o.opt, o.n); err != nil {
			return nil, &xskError{o.nm, err}
		}
	}
	var off unix.XDPMmapOffsets
	olen := uint32(unsafe.Sizeof(off))
	if _, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_XDP, unix.XDP_MMAP_OFFSETS,
		uintptr(unsafe.Pointer(&off)), uintptr(unsafe.Pointer(&olen)), 0); e != 0 {
		return nil, &xskError{"XDP_MMAP_OFFSETS", e}
	}
	if olen < uint32(unsafe.Sizeof(off)) {
		return nil, &xskError{"XDP_MMAP_OFFSETS", errors.New("kernel too old (no ring flags, need Linux 5.4+)")}
	}
	if err := xdpMapAddrRing(fd, unix.XDP_UMEM_PGOFF_FILL_RING, off.Fr, s.rxFrames, &s.fill, true); err != nil {
		return nil, &xskError{"mmap fill ring", err}
	}
	if err := xdpMapAddrRing(fd, unix.XDP_UMEM_PGOFF_COMPLETION_RING, off.Cr, s.txFrames, &s.comp, false); err != nil {
		return nil, &xskError{"mmap completion ring", err}
	}
	if err := xdpMapDescRing(fd, unix.XDP_PGOFF_RX_RING, off.Rx, s.rxFrames, &s.rx, false); err != nil {
		return nil, &xskError{"mmap rx ring", err}
	}
	if err := xdpMapDescRing(fd, unix.XDP_PGOFF_TX_RING, off.Tx, s.txFrames, &s.tx, true); err != nil {
		return nil, &xskError{"mmap tx ring", err}
	}

	// RX chunks: all of them go to the fill ring now.
	n := s.fill.free(s.rxFrames)
	for i := uint32(0); i < n; i++ {
		s.fill.descs[s.fill.cachedProd&s.fill.mask] = uint64(i) * s.frameSize
		s.fill.cachedProd++
	}
	s.fill.submit()
	// TX chunks: on the free stack.
	s.txFree = make([]uint64, 0, c.txFrames)
	for i := c.txFrames - 1; i >= 0; i-- {
		s.txFree = append(s.txFree, uint64(c.rxFrames+i)*s.frameSize)
	}

	sa := unix.SockaddrXDP{Flags: unix.XDP_USE_NEED_WAKEUP, Ifindex: uint32(c.ifindex), QueueID: uint32(c.queue)}
	// The kernel releases a closed socket's hold on the queue from a
	// deferred work item, so a queue closed a moment ago (a port closed and
	// reopened) can still report EBUSY for a few milliseconds: retry for
	// up to a second before calling it busy.
	for try := 0; ; try++ {
		err := unix.Bind(fd, &sa)
		if err == nil {
			break
		}
		if err != unix.EBUSY || try >= 100 {
			return nil, &xskError{fmt.Sprintf("bind to queue %d", c.queue), err}
		}
		time.Sleep(10 * time.Millisecond)
	}
	var xo struct{ flags uint32 }
	xl := uint32(unsafe.Sizeof(xo))
	if _, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_XDP, unix.XDP_OPTIONS,
		uintptr(unsafe.Pointer(&xo)), uintptr(unsafe.Pointer(&xl)), 0); e == 0 {
		s.zeroCopy = xo.flags&unix.XDP_OPTIONS_ZEROCOPY != 0
	}
	return s, nil
}

func xdpSetsockopt(fd, opt int, p unsafe.Pointer, l uintptr) error {
	if _, _, e := unix.Syscall6(unix.SYS_SETSOCKOPT, uintptr(fd), unix.SOL_XDP, uintptr(opt), uintptr(p), l, 0); e != 0 {
		return e
	}
	return nil
}

// xskError keeps the failing step; the errno stays reachable via errors.Is.
type xskError struct {
	step string
	err  error
}

func (e *xskError) Error() string { return e.step + ": " + e.err.Error() }
func (e *xskError) Unwrap() error { return e.err }

func (s *xsk) close() error {
	var err error
	if s.fd >= 0 {
		err = unix.Close(s.fd)
		s.fd = -1
	}
	s.fill.unmap()
	s.comp.unmap()
	s.rx.unmap()
	s.tx.unmap()
	if s.umem != nil {
		_ = unix.Munmap(s.umem)
		s.umem = nil
	}
	return err
}

// frame returns the UMEM bytes of an rx/tx descriptor, or nil if the
// descriptor does not lie inside the UMEM (never trust ring contents).
func (s *xsk) frame(d *unix.XDPDesc) []byte {
	end := d.Addr + uint64(d.Len)
	if end > uint64(len(s.umem)) || end < d.Addr {
		return nil
	}
	return s.umem[d.Addr:end:end]
}

// --- receive side ---

// rxPeek returns how many received descriptors are ready (up to max).
func (s *xsk) rxPeek(max uint32) uint32 {
	n := s.rx.avail(max)
	if n > max {
		n = max
	}
	return n
}

// rxDesc returns the i-th ready descriptor (i < the last rxPeek result).
func (s *xsk) rxDesc(i uint32) *unix.XDPDesc {
	return &s.rx.descs[(s.rx.cachedCons+i)&s.rx.mask]
}

// rxRecycle hands the chunks of the first n ready descriptors straight
// back to the fill ring and releases them from the rx ring. There is always
// room: the fill ring holds rxFrames entries and those n chunks are in
// neither ring.
func (s *xsk) rxRecycle(n uint32) {
	if n == 0 {
		return
	}
	s.fill.free(n)
	for i := uint32(0); i < n; i++ {
		addr := s.rx.descs[(s.rx.cachedCons+i)&s.rx.mask].Addr & s.frameMask
		s.fill.descs[s.fill.cachedProd&s.fill.mask] = addr
		s.fill.cachedProd++
	}
	s.fill.submit()
	s.rx.cachedCons += n
	s.rx.release()
}

// rxWakeup kicks the driver when it asked for it (need_wakeup on the fill
// ring; zero-copy drivers set it when they ran out of fill buffers).
func (s *xsk) rxWakeup() {
	if s.fill.needWakeup() {
		_, _, _ = unix.Syscall6(unix.SYS_RECVFROM, uintptr(s.fd), 0, 0, unix.MSG_DONTWAIT, 0, 0)
	}
}

// --- transmit side ---

// txReclaim moves completed tx chunks back to the free stack.
func (s *xsk) txReclaim() {
	n := s.comp.avail(s.txFrames)
	if n == 0 {
		return
	}
	for i := uint32(0); i < n; i++ {
		addr := s.comp.descs[(s.comp.cachedCons+i)&s.comp.mask] & s.frameMask
		if len(s.txFree) < cap(s.txFree) {
			s.txFree = append(s.txFree, addr)
		}
	}
	s.comp.cachedCons += n
	s.comp.release()
}

// txPut queues data for transmission (copying it into a free chunk) and
// reports false when no chunk is free. The caller calls txFlush after the
// batch. A free chunk implies a free tx ring slot (the ring has txFrames
// entries and this chunk is not in it).
func (s *xsk) txPut(data []byte) bool {
	n := len(s.txFree)
	if n == 0 {
		return false
	}
	addr := s.txFree[n-1]
	s.txFree = s.txFree[:n-1]
	copy(s.umem[addr:addr+s.frameSize], data)
	s.tx.free(1)
	d := &s.tx.descs[s.tx.cachedProd&s.tx.mask]
	d.Addr, d.Len, d.Options = addr, uint32(len(data)), 0
	s.tx.cachedProd++
	return true
}

// txFlush publishes the queued descriptors and kicks the kernel until it
// has taken them all, or it stops making progress. In copy mode the kernel
// sends at most 32 descriptors per sendto (and reports EAGAIN when it
// stopped at that limit), so a batch of 64 needs two kicks; zero-copy
// drivers clear need_wakeup while they are polling and need no kick.
// It returns the errno of a kick that failed for good (e.g. ENETDOWN).
func (s *xsk) txFlush() error {
	s.tx.submit()
	stalls := 0
	for {
		pend := s.tx.pending()
		if pend == 0 {
			break
		}
		if !s.tx.needWakeup() {
			break
		}
		_, _, e := unix.Syscall6(unix.SYS_SENDTO, uintptr(s.fd), 0, 0, unix.MSG_DONTWAIT, 0, 0)
		switch e {
		case 0, unix.EAGAIN, unix.EBUSY, unix.ENOBUFS, unix.EINTR:
			// EAGAIN: batch limit hit or device queue busy; EBUSY: one
			// frame completed but dropped by the device; ENOBUFS: no skb.
		default:
			s.txReclaim()
			return e
		}
		s.txReclaim()
		if s.tx.pending() >= pend {
			stalls++
			if stalls >= 4 {
				// The device is not draining (busy qdisc-less device,
				// carrier down): leave the rest in the ring, the next
				// flush retries.
				break
			}
		} else {
			stalls = 0
		}
	}
	s.txReclaim()
	return nil
}

// stats reads the kernel's counters for this socket.
func (s *xsk) stats() (unix.XDPStatistics, error) {
	var st unix.XDPStatistics
	l := uint32(unsafe.Sizeof(st))
	if _, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(s.fd), unix.SOL_XDP, unix.XDP_STATISTICS,
		uintptr(unsafe.Pointer(&st)), uintptr(unsafe.Pointer(&l)), 0); e != 0 {
		return st, e
	}
	return st, nil
}
