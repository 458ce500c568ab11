package tracebox

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/packet"
	"golang.org/x/sys/unix"
)

// liveTransport sends on a raw IP socket (header included) and captures on
// an AF_PACKET datagram socket bound to the outgoing interface.
type liveTransport struct {
	ifi  *net.Interface
	src4 netip.Addr
	src6 netip.Addr
	fd4  int
	fd6  int
	rx4  *packet.Conn
	rx6  *packet.Conn
	buf  []byte
	v6   bool
}

// OpenLive opens a live transport on iface ("" = the interface owning the
// source address the kernel picks for dst).
func OpenLive(iface string, dst netip.Addr) (Transport, error) {
	t := &liveTransport{fd4: -1, fd6: -1, buf: make([]byte, 65536), v6: dst.Is6()}
	var err error
	if iface == "" {
		src, err := routeSource(dst)
		if err != nil {
			return nil, err
		}
		t.ifi, err = ifaceOwning(src)
		if err != nil {
			return nil, err
		}
		if src.Is4() {
			t.src4 = src
		} else {
			t.src6 = src
		}
	} else if t.ifi, err = net.InterfaceByName(iface); err != nil {
		return nil, err
	}
	addrs, _ := t.ifi.Addrs()
	for _, a := range addrs {
		pfx, err := netip.ParsePrefix(a.String())
		if err != nil {
			continue
		}
		ad := pfx.Addr()
		if ad.Is4() && !t.src4.IsValid() {
			t.src4 = ad
		}
		if ad.Is6() && !ad.IsLinkLocalUnicast() && !t.src6.IsValid() {
			t.src6 = ad
		}
	}
	fam, proto := unix.AF_INET, unix.ETH_P_IP
	if t.v6 {
		fam, proto = unix.AF_INET6, unix.ETH_P_IPV6
	}
	fd, err := unix.Socket(fam, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
	if err != nil {
		return nil, fmt.Errorf("tracebox: raw socket (are you root?): %w", err)
	}
	if iface != "" {
		_ = unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, iface)
	}
	rx, err := packet.Listen(t.ifi, packet.Datagram, proto, nil)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("tracebox: capture on %s: %w", t.ifi.Name, err)
	}
	if t.v6 {
		t.fd6, t.rx6 = fd, rx
	} else {
		t.fd4, t.rx4 = fd, rx
	}
	return t, nil
}

func routeSource(dst netip.Addr) (netip.Addr, error) {
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, 33434)))
	if err != nil {
		return netip.Addr{}, fmt.Errorf("tracebox: no route to %s: %w", dst, err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap(), nil
}

func ifaceOwning(a netip.Addr) (*net.Interface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	for i := range ifs {
		addrs, _ := ifs[i].Addrs()
		for _, x := range addrs {
			if p, err := netip.ParsePrefix(x.String()); err == nil && p.Addr() == a {
				return &ifs[i], nil
			}
		}
	}
	return nil, fmt.Errorf("tracebox: no interface owns %s", a)
}

func (t *liveTransport) Source(v6 bool) netip.Addr {
	if v6 {
		return t.src6
	}
	return t.src4
}

func (t *liveTransport) Send(b []byte) (time.Time, error) {
	if len(b) < 20 {
		return time.Time{}, errors.New("short packet")
	}
	var err error
	now := time.Now()
	if b[0]>>4 == 4 {
		if t.fd4 < 0 {
			return now, errors.New("tracebox: transport opened for IPv6")
		}
		err = unix.Sendto(t.fd4, b, 0, &unix.SockaddrInet4{Addr: [4]byte(b[16:20])})
	} else {
		if t.fd6 < 0 || len(b) < 40 {
			return now, errors.New("tracebox: transport opened for IPv4")
		}
		err = unix.Sendto(t.fd6, b, 0, &unix.SockaddrInet6{Addr: [16]byte(b[24:40])})
	}
	return now, err
}

func (t *liveTransport) Recv(deadline time.Time) ([]byte, time.Time, error) {
	rx := t.rx4
	if t.v6 {
		rx = t.rx6
	}
	if err := rx.SetReadDeadline(deadline); err != nil {
		return nil, time.Time{}, err
	}
	n, _, err := rx.ReadFrom(t.buf)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, time.Time{}, ErrTimeout
		}
		return nil, time.Time{}, err
	}
	return append([]byte(nil), t.buf[:n]...), time.Now(), nil
}

// Drain discards the packets already queued on the capture socket.
func (t *liveTransport) Drain() {
	for {
		if _, _, err := t.Recv(time.Now()); err != nil {
			return
		}
	}
}

func (t *liveTransport) Close() error {
	for _, fd := range []int{t.fd4, t.fd6} {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
	for _, c := range []*packet.Conn{t.rx4, t.rx6} {
		if c != nil {
			c.Close()
		}
	}
	return nil
}

// Filter is a netfilter (nftables) rule dropping, in the input hook, the
// replies to a probe's flow so the host kernel does not answer them (RST,
// port unreachable). Capture happens before netfilter, so tracebox still
// sees them. Close removes the table.
type Filter struct {
	conn  *nftables.Conn
	table *nftables.Table
}

var filterSeq atomic.Uint32

// NewFilter installs the rule for a TCP or UDP probe (like tracebox's
// `iptables -A INPUT -p tcp --sport DPORT --dport SPORT -j DROP`).
func NewFilter(probe *Packet) (*Filter, error) {
	var proto byte
	var sport, dport uint16
	if t := probe.First(KTCP); t != nil {
		proto, sport, dport = unix.IPPROTO_TCP, uint16(t.F[tcpSport].V), uint16(t.F[tcpDport].V)
	} else if u := probe.First(KUDP); u != nil {
		proto, sport, dport = unix.IPPROTO_UDP, uint16(u.F[udpSport].V), uint16(u.F[udpDport].V)
	} else {
		return nil, errors.New("tracebox: filter needs a TCP or UDP probe")
	}
	c, err := nftables.New()
	if err != nil {
		return nil, err
	}
	name := fmt.Sprintf("tracebox_%d_%d", os.Getpid(), filterSeq.Add(1))
	tb := c.AddTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: name})
	ch := c.AddChain(&nftables.Chain{Name: "input", Table: tb, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter})
	c.AddRule(&nftables.Rule{Table: tb, Chain: ch, Exprs: []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(dport)},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(sport)},
		&expr.Verdict{Kind: expr.VerdictDrop},
	}})
	if err := c.Flush(); err != nil {
		return nil, fmt.Errorf("tracebox: nftables: %w", err)
	}
	return &Filter{conn: c, table: tb}, nil
}

// Name is the nftables table name (family inet).
func (f *Filter) Name() string { return f.table.Name }

// Close removes the rule's table. Safe to call twice.
func (f *Filter) Close() error {
	if f == nil || f.table == nil {
		return nil
	}
	f.conn.DelTable(f.table)
	err := f.conn.Flush()
	f.table = nil
	return err
}
