// Package tbxsim simulates a path of routers and middleboxes in memory, as a
// tracebox.Transport, so the engine, the CLI's offline mode and the Lua API
// can be tested without privileges. Routers behave like Linux: a packet
// arriving with TTL <= 1 is answered with an ICMP time exceeded quoting it
// as received (TTL 1); otherwise the TTL is decremented and the hop's
// middlebox function (if any) rewrites the packet before it is forwarded.
package tbxsim

import (
	"net/netip"
	"sync"
	"time"

	"flowbox/tracebox"
)

// Quote modes of a router.
const (
	QuoteFull   = iota // RFC 1812: whole packet (up to 576 bytes of ICMP)
	QuoteRFC792        // IP header + 8 bytes
	QuoteSilent        // no ICMP at all
)

// Router is one hop.
type Router struct {
	Addr  netip.Addr
	Quote int
	// MTU limits the ICMP error size (0 = 576 for IPv4, 1280 for IPv6).
	MTU int
	// Modify rewrites a forwarded packet (checksums are fixed afterwards
	// unless KeepChecksum). It may return nil to drop it.
	Modify       func(b []byte) []byte
	KeepChecksum bool
	// Extension, when set, is appended to time-exceeded replies as an RFC
	// 4884 extension structure (the quote is padded to 128 bytes).
	Extension []byte
	// LinkMTU is the MTU of the link after the router (0: unlimited). A
	// forwarded packet larger than that with DF set (any IPv6 packet) is
	// answered with "fragmentation needed" / "packet too big" giving
	// LinkMTU; a larger IPv4 packet without DF is forwarded as is (the
	// simulator does not fragment).
	LinkMTU int
}

// Destination behaviours.
const (
	DstSynAck = iota // TCP SYN/ACK (UDP: port unreachable)
	DstRST           // TCP RST+ACK
	DstSilent        // nothing
)

// Path is src -> routers -> destination.
type Path struct {
	Routers []Router
	Dst     netip.Addr
	DstMode int
	// DstMSS is the MSS option the destination puts in its SYN/ACK (0: none).
	DstMSS int
	// DstOptions are raw TCP option bytes the destination adds to its
	// SYN/ACK after the MSS (padded with NOPs to a multiple of 4).
	DstOptions []byte

	mu      sync.Mutex
	replies [][]byte
	// Sent records every probe received by the path (for assertions).
	Sent [][]byte
}

// Transport returns a tracebox.Transport running probes through the path.
func (p *Path) Transport() tracebox.Transport { return &transport{p: p} }

type transport struct{ p *Path }

func (t *transport) Source(v6 bool) netip.Addr {
	if v6 {
		return tracebox.OfflineSrc6
	}
	return tracebox.OfflineSrc4
}

func (t *transport) Send(b []byte) (time.Time, error) {
	t.p.mu.Lock()
	defer t.p.mu.Unlock()
	t.p.Sent = append(t.p.Sent, append([]byte(nil), b...))
	if r := t.p.Process(b); r != nil {
		t.p.replies = append(t.p.replies, r)
	}
	return time.Now(), nil
}

func (t *transport) Recv(deadline time.Time) ([]byte, time.Time, error) {
	t.p.mu.Lock()
	defer t.p.mu.Unlock()
	if len(t.p.replies) == 0 {
		return nil, time.Time{}, tracebox.ErrTimeout
	}
	r := t.p.replies[0]
	t.p.replies = t.p.replies[1:]
	return r, time.Now().Add(100 * time.Microsecond), nil
}

func (t *transport) Close() error { return nil }

// Drain drops queued replies (like the live transport before each hop).
func (t *transport) Drain() {
	t.p.mu.Lock()
	t.p.replies = nil
	t.p.mu.Unlock()
}

// Process runs one probe through the path and returns the reply (or nil).
func (p *Path) Process(in []byte) []byte {
	b := append([]byte(nil), in...)
	if len(b) < 20 {
		return nil
	}
	v6 := b[0]>>4 == 6
	for _, r := range p.Routers {
		ttl := ttlOf(b)
		if ttl <= 1 {
			if r.Quote == QuoteSilent {
				return nil
			}
			return icmpError(r, b, v6)
		}
		if r.LinkMTU > 0 && len(b) > r.LinkMTU && (v6 || b[6]&0x40 != 0) {
			return tooBig(r, b, v6) // checked before the TTL decrement, as Linux does
		}
		setTTL(b, ttl-1)
		if r.Modify != nil {
			b = r.Modify(b)
			if b == nil {
				return nil
			}
			if !r.KeepChecksum {
				FixChecksums(b)
			}
		} else {
			FixChecksums(b)
		}
	}
	return p.dstReply(b, v6)
}

func ttlOf(b []byte) int {
	if b[0]>>4 == 6 {
		return int(b[7])
	}
	return int(b[8])
}

func setTTL(b []byte, ttl int) {
	if b[0]>>4 == 6 {
		b[7] = byte(ttl)
	} else {
		b[8] = byte(ttl)
	}
}

func icmpError(r Router, pkt []byte, v6 bool) []byte {
	q := pkt
	if r.Quote == QuoteRFC792 {
		hl := 40
		if !v6 {
			hl = int(pkt[0]&0xf) * 4
		}
		if len(q) > hl+8 {
			q = q[:hl+8]
		}
	}
	mtu := r.MTU
	if mtu == 0 {
		mtu = 576
		if v6 {
			mtu = 1280
		}
	}
	hdr := 28
	if v6 {
		hdr = 48
	}
	if len(q) > mtu-hdr {
		q = q[:mtu-hdr]
	}
	q = append([]byte(nil), q...)
	var rest [4]byte
	if r.Extension != nil {
		for len(q) < 128 {
			q = append(q, 0)
		}
		if v6 {
			rest[0] = byte(len(q) / 8)
		} else {
			rest[1] = byte(len(q) / 4)
		}
		q = append(q, r.Extension...)
	}
	src := r.Addr
	dst := srcOf(pkt)
	if v6 {
		return Build6(src, dst, 58, 64, append([]byte{3, 0, 0, 0, rest[0], rest[1], rest[2], rest[3]}, q...))
	}
	return Build4(src, dst, 1, 64, 0, append([]byte{11, 0, 0, 0, rest[0], rest[1], rest[2], rest[3]}, q...))
}

// tooBig answers pkt (as the router received it) with fragmentation needed
// (ICMP 3/4) or packet too big (ICMPv6 2), quoting the whole packet.
func tooBig(r Router, pkt []byte, v6 bool) []byte {
	q := append([]byte(nil), pkt...)
	if v6 {
		if len(q) > 1280-48 {
			q = q[:1280-48]
		}
		m := r.LinkMTU
		return Build6(r.Addr, srcOf(pkt), 58, 64, append([]byte{2, 0, 0, 0, byte(m >> 24), byte(m >> 16), byte(m >> 8), byte(m)}, q...))
	}
	if len(q) > 548 {
		q = q[:548]
	}
	return Build4(r.Addr, srcOf(pkt), 1, 64, 0, append([]byte{3, 4, 0, 0, 0, 0, byte(r.LinkMTU >> 8), byte(r.LinkMTU)}, q...))
}

func srcOf(b []byte) netip.Addr {
	if b[0]>>4 == 6 {
		return netip.AddrFrom16([16]byte(b[8:24]))
	}
	return netip.AddrFrom4([4]byte(b[12:16]))
}

func (p *Path) dstReply(b []byte, v6 bool) []byte {
	if p.DstMode == DstSilent {
		return nil
	}
	hl := 40
	proto := b[6]
	if !v6 {
		hl = int(b[0]&0xf) * 4
		proto = b[9]
	}
	if len(b) < hl+8 {
		return nil
	}
	l4 := b[hl:]
	src := srcOf(b)
	switch proto {
	case 6:
		if len(l4) < 20 {
			return nil
		}
		t := make([]byte, 20)
		copy(t[0:2], l4[2:4])
		copy(t[2:4], l4[0:2])
		seq := be32(l4[4:])
		plen := uint32(len(l4) - int(l4[12]>>4)*4)
		ack := seq + plen
		if l4[13]&2 != 0 {
			ack++
		}
		put32(t[8:], ack)
		if p.DstMode == DstRST {
			t[13] = 0x14
		} else {
			put32(t[4:], 0x1000)
			t[13] = 0x12
			if l4[13]&2 == 0 {
				t[13] = 0x10
			}
		}
		put16(t[14:], 64240)
		if p.DstMSS > 0 && t[13]&2 != 0 {
			t = append(t, 2, 4, byte(p.DstMSS>>8), byte(p.DstMSS))
		}
		if len(p.DstOptions) > 0 && t[13]&2 != 0 {
			t = append(t, p.DstOptions...)
			for len(t)%4 != 0 {
				t = append(t, 1)
			}
		}
		t[12] = byte(len(t)/4) << 4
		if v6 {
			return Build6(p.Dst, src, 6, 64, t)
		}
		r := Build4(p.Dst, src, 6, 64, 0, t)
		r[6] = 0x40 // DF, as Linux sets on TCP
		FixChecksums(r)
		return r
	default:
		// ICMP port unreachable quoting the packet
		q := b
		if len(q) > 548 {
			q = q[:548]
		}
		if v6 {
			return Build6(p.Dst, src, 58, 64, append([]byte{1, 4, 0, 0, 0, 0, 0, 0}, q...))
		}
		return Build4(p.Dst, src, 1, 64, 0, append([]byte{3, 3, 0, 0, 0, 0, 0, 0}, q...))
	}
}

// Build4 builds an IPv4 packet (checksums computed).
func Build4(src, dst netip.Addr, proto uint8, ttl uint8, id uint16, payload []byte) []byte {
	b := make([]byte, 20+len(payload))
	b[0] = 0x45
	put16(b[2:], uint16(len(b)))
	put16(b[4:], id)
	b[8], b[9] = ttl, proto
	s, d := src.As4(), dst.As4()
	copy(b[12:], s[:])
	copy(b[16:], d[:])
	copy(b[20:], payload)
	FixChecksums(b)
	return b
}

// Build6 builds an IPv6 packet (L4 checksum computed).
func Build6(src, dst netip.Addr, next uint8, hop uint8, payload []byte) []byte {
	b := make([]byte, 40+len(payload))
	b[0] = 0x60
	put16(b[4:], uint16(len(payload)))
	b[6], b[7] = next, hop
	s, d := src.As16(), dst.As16()
	copy(b[8:], s[:])
	copy(b[24:], d[:])
	copy(b[40:], payload)
	FixChecksums(b)
	return b
}

// FixChecksums recomputes the IPv4 header checksum and the TCP/UDP/ICMP
// checksum of an unfragmented packet.
func FixChecksums(b []byte) {
	var hl int
	var proto uint8
	var src, dst []byte
	if len(b) < 20 {
		return
	}
	if b[0]>>4 == 4 {
		hl = int(b[0]&0xf) * 4
		if hl < 20 || hl > len(b) {
			return
		}
		b[10], b[11] = 0, 0
		put16(b[10:], csum(0, b[:hl]))
		proto, src, dst = b[9], b[12:16], b[16:20]
		if be16(b[6:])&0x1fff != 0 || be16(b[6:])&0x2000 != 0 {
			return
		}
	} else {
		if len(b) < 40 {
			return
		}
		hl, proto, src, dst = 40, b[6], b[8:24], b[24:40]
	}
	l4 := b[hl:]
	var off int
	switch proto {
	case 6:
		off = 16
	case 17:
		off = 6
	case 1:
		if len(l4) >= 4 {
			l4[2], l4[3] = 0, 0
			put16(l4[2:], csum(0, l4))
		}
		return
	case 58:
		off = 2
	default:
		return
	}
	if len(l4) < off+2 {
		return
	}
	l4[off], l4[off+1] = 0, 0
	var s uint32
	s = sum(s, src)
	s = sum(s, dst)
	s += uint32(proto) + uint32(len(l4))
	put16(l4[off:], csum(s, l4))
}

func sum(s uint32, b []byte) uint32 {
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	return s
}

func csum(s uint32, b []byte) uint16 {
	s = sum(s, b)
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}

func be16(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) }
func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}
func put16(b []byte, v uint16) { b[0], b[1] = byte(v>>8), byte(v) }
func put32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
}

// L4 returns the transport header offset of an IPv4/IPv6 packet.
func L4(b []byte) int {
	if b[0]>>4 == 6 {
		return 40
	}
	return int(b[0]&0xf) * 4
}

// ClampMSS returns a Modify function that sets the MSS option of SYNs to mss,
// adding the option when absent (like Linux TCPMSS --set-mss / a clamp).
func ClampMSS(mss int) func([]byte) []byte {
	return func(b []byte) []byte {
		hl := L4(b)
		if len(b) < hl+20 || b[hl+13]&2 == 0 {
			return b
		}
		t := b[hl:]
		off := int(t[12]>>4) * 4
		for i := 20; i < off && i < len(t); {
			if t[i] <= 1 {
				i++
				continue
			}
			if i+1 >= off || t[i+1] < 2 {
				break
			}
			if t[i] == 2 && t[i+1] == 4 {
				if int(be16(t[i+2:])) > mss {
					put16(t[i+2:], uint16(mss))
				}
				return b
			}
			i += int(t[i+1])
		}
		// add the option right after the fixed header
		nb := make([]byte, 0, len(b)+4)
		nb = append(nb, b[:hl+20]...)
		nb = append(nb, 2, 4, byte(mss>>8), byte(mss))
		nb = append(nb, b[hl+20:]...)
		nb[hl+12] = byte(off/4+1)<<4 | nb[hl+12]&0xf
		if nb[0]>>4 == 4 {
			put16(nb[2:], uint16(len(nb)))
		} else {
			put16(nb[4:], uint16(len(nb)-40))
		}
		return nb
	}
}
