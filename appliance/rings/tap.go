package rings

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"flowbox/appliance/packet"
)

// TAP is a Linux TAP device: frames written to it arrive in the kernel
// stack as if received on the device (ToHost), frames the kernel sends on
// it are read back (FromHost). It is the MultiStack "legacy path". Reads
// and writes are one syscall per frame (TAP has no batch interface), on a
// non-blocking descriptor; one goroutine may read while another writes.
type TAP struct {
	name string
	fd   int
	mtu  int

	rx, tx, rxDrops, txDrops atomic.Uint64
	rxOversized, txOversized atomic.Uint64
	txErrors                 atomic.Uint64
	closed                   atomic.Bool
}

// TAPOptions configure a TAP device when it is created.
type TAPOptions struct {
	Addr  netip.Prefix // address/mask for the kernel side (optional)
	Ether [6]byte      // MAC address (optional; zero = kernel's random one)
	MTU   int          // default 1500
}

// OpenTAP creates (or attaches to) TAP device name and brings it up.
func OpenTAP(name string, o TAPOptions) (*TAP, error) {
	if name == "" || len(name) >= unix.IFNAMSIZ {
		return nil, fmt.Errorf("TAP device name %q must have 1 to %d characters", name, unix.IFNAMSIZ-1)
	}
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil, fmt.Errorf("%s: /dev/net/tun is missing: load the tun driver or create the node with `mknod /dev/net/tun c 10 200`", name)
		}
		return nil, tapErr(name, "opening /dev/net/tun", err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("%s: bad TAP device name: %v", name, err)
	}
	ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return nil, tapErr(name, "creating the TAP device", err)
	}
	t := &TAP{name: name, fd: fd, mtu: o.MTU}
	if t.mtu <= 0 {
		t.mtu = 1500
	}
	if err := t.configure(o); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

func tapErr(name, what string, err error) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return PermissionError(name, what, "CAP_NET_ADMIN", err)
	}
	if errors.Is(err, unix.EBUSY) {
		return fmt.Errorf("%s: %s failed: the device is in use by another program: pick another DEVNAME", name, what)
	}
	if errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("%s: %s failed: a non-TAP device of that name exists: pick another DEVNAME", name, what)
	}
	return fmt.Errorf("%s: %s failed: %v", name, what, err)
}

func (t *TAP) configure(o TAPOptions) error {
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return tapErr(t.name, "configuring the TAP device", err)
	}
	defer unix.Close(s)
	ioc := func(what string, req uint, set func(*unix.Ifreq)) error {
		ifr, _ := unix.NewIfreq(t.name)
		if set != nil {
			set(ifr)
		}
		if err := unix.IoctlIfreq(s, req, ifr); err != nil {
			return tapErr(t.name, what, err)
		}
		return nil
	}
	if err := ioc("setting the MTU", unix.SIOCSIFMTU, func(r *unix.Ifreq) { r.SetUint32(uint32(t.mtu)) }); err != nil {
		return err
	}
	if o.Ether != ([6]byte{}) {
		ifr, _ := unix.NewIfreq(t.name)
		// struct sockaddr hwaddr: family (ARPHRD_ETHER) then the address.
		raw := (*[unix.IFNAMSIZ + 24]byte)(unsafe.Pointer(ifr))
		raw[unix.IFNAMSIZ] = byte(unix.ARPHRD_ETHER)
		raw[unix.IFNAMSIZ+1] = byte(unix.ARPHRD_ETHER >> 8)
		copy(raw[unix.IFNAMSIZ+2:], o.Ether[:])
		if err := unix.IoctlIfreq(s, unix.SIOCSIFHWADDR, ifr); err != nil {
			return tapErr(t.name, "setting the MAC address", err)
		}
	}
	if o.Addr.IsValid() {
		a := o.Addr.Addr().As4()
		if err := ioc("setting the address", unix.SIOCSIFADDR, func(r *unix.Ifreq) { r.SetInet4Addr(a[:]) }); err != nil {
			return err
		}
		m := netip.PrefixFrom(netip.AddrFrom4([4]byte{255, 255, 255, 255}), o.Addr.Bits()).Masked().Addr().As4()
		if err := ioc("setting the netmask", unix.SIOCSIFNETMASK, func(r *unix.Ifreq) { r.SetInet4Addr(m[:]) }); err != nil {
			return err
		}
	}
	ifr, _ := unix.NewIfreq(t.name)
	if err := unix.IoctlIfreq(s, unix.SIOCGIFFLAGS, ifr); err != nil {
		return tapErr(t.name, "reading the device flags", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP | unix.IFF_RUNNING)
	if err := unix.IoctlIfreq(s, unix.SIOCSIFFLAGS, ifr); err != nil {
		return tapErr(t.name, "bringing the device up", err)
	}
	return nil
}

// Name is the device name.
func (t *TAP) Name() string { return t.name }

// Fd is the TAP file descriptor (tests, poll).
func (t *TAP) Fd() int { return t.fd }

// RecvBatch appends up to max frames the kernel sent on the device (one
// read(2) each, non-blocking). Frames longer than a pooled buffer holds
// are counted and dropped.
func (t *TAP) RecvBatch(pool *packet.Pool, b *packet.Batch, max int) (int, error) {
	if t.closed.Load() {
		return 0, os.ErrClosed
	}
	if room := packet.MaxBatch - b.N; max > room {
		max = room
	}
	got := 0
	for got < max {
		p := pool.New(packet.BufSize - packet.Headroom)
		buf := p.Data()
		n, _, e := unix.Syscall(unix.SYS_READ, uintptr(t.fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
		if e != 0 || int(n) <= 0 {
			pool.Free(p)
			if e == 0 || e == unix.EAGAIN || e == unix.EINTR {
				break
			}
			return got, e
		}
		if int(n) >= len(buf) {
			// read filled the buffer: the frame was larger (and truncated)
			pool.Free(p)
			t.rxOversized.Add(1)
			t.rxDrops.Add(1)
			continue
		}
		p.SetLen(pool, int(n))
		p.SetMacAt(0)
		b.P[b.N] = p
		b.N++
		got++
	}
	t.rx.Add(uint64(got))
	return got, nil
}

// WaitRX blocks up to timeoutMs milliseconds for a frame to read.
func (t *TAP) WaitRX(timeoutMs int) bool {
	fds := [1]unix.PollFd{{Fd: int32(t.fd), Events: unix.POLLIN}}
	n, _ := unix.Poll(fds[:], timeoutMs)
	return n > 0
}

// SendBatch writes b's frames into the kernel (one write(2) each) and frees
// them; frames longer than MTU+14 (+4 for a VLAN tag) or shorter than an
// Ethernet header, and writes the kernel refuses, count as drops.
func (t *TAP) SendBatch(pool *packet.Pool, b *packet.Batch) (int, error) {
	sent := 0
	var err error
	for i := 0; i < b.N; i++ {
		p := b.P[i]
		d := p.Data()
		switch {
		case t.closed.Load():
			err = os.ErrClosed
		case len(d) > t.mtu+ethHdrLen+4:
			t.txOversized.Add(1)
		case len(d) < ethHdrLen:
			t.txErrors.Add(1)
		default:
			_, _, e := unix.Syscall(unix.SYS_WRITE, uintptr(t.fd), uintptr(unsafe.Pointer(&d[0])), uintptr(len(d)))
			if e == 0 {
				sent++
				continue
			}
			t.txErrors.Add(1)
		}
		t.txDrops.Add(1)
	}
	pool.FreeBatch(b)
	t.tx.Add(uint64(sent))
	return sent, err
}

// Stats returns the TAP's counters in the Port form.
func (t *TAP) Stats() Stats {
	s := Stats{RX: t.rx.Load(), TX: t.tx.Load(), RXDrops: t.rxDrops.Load(), TXDrops: t.txDrops.Load(), DropReasons: map[string]uint64{}}
	for name, v := range map[string]*atomic.Uint64{"rx-oversized": &t.rxOversized, "tx-oversized": &t.txOversized, "tx-errors": &t.txErrors} {
		if n := v.Load(); n > 0 {
			s.DropReasons[name] = n
		}
	}
	return s
}

// Close closes the descriptor; a TAP created by flowbox disappears with it.
func (t *TAP) Close() error {
	if t.closed.Swap(true) {
		return nil
	}
	return unix.Close(t.fd)
}

type tapEntry struct {
	t    *TAP
	refs int
}

var (
	tapMu  sync.Mutex
	tapReg = map[string]*tapEntry{}
)

// AcquireTAP is the refcounted form of OpenTAP used by ToHost and FromHost:
// both ends of one device (and a hot reconfiguration's new elements) share
// one descriptor; it closes when the last holder releases it. Options apply
// when the device is first opened.
func AcquireTAP(name string, o TAPOptions) (*TAP, func(), error) {
	tapMu.Lock()
	defer tapMu.Unlock()
	e := tapReg[name]
	if e == nil {
		t, err := OpenTAP(name, o)
		if err != nil {
			return nil, nil, err
		}
		e = &tapEntry{t: t}
		tapReg[name] = e
	}
	e.refs++
	var once sync.Once
	return e.t, func() {
		once.Do(func() {
			tapMu.Lock()
			defer tapMu.Unlock()
			e.refs--
			if e.refs == 0 {
				if tapReg[name] == e {
					delete(tapReg, name)
				}
				e.t.Close()
			}
		})
	}, nil
}
