// Package ip holds the IPv4 header elements: CheckIPHeader, MarkIPHeader,
// StripIPHeader, DecIPTTL, the checksum setters, SetIPDSCP, IPEncap,
// UDPIPEncap and IPMirror. They follow Click's semantics (elements/ip and
// elements/tcpudp) and work on whole batches without allocating.
package ip

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
	"flowbox/appliance/proto"
)

// A valid IPv4 header (length a multiple of 4) sums to 0xffff:
// foldSum(wordSum(h)) == 0xffff. Summing 32-bit words into 64 bits and
// folding at the end is equivalent to the 16-bit one's-complement sum
// (RFC 1071) and about twice as fast on the short IP header.

// headerChecksum is the checksum to store in h (sum field already zero).
func headerChecksum(h []byte) uint16 { return ^foldSum(wordSum(h)) }

func wordSum(h []byte) uint64 {
	if len(h) == 20 { // the common option-less header, unrolled
		be := binary.BigEndian
		return uint64(be.Uint32(h[0:4])) + uint64(be.Uint32(h[4:8])) + uint64(be.Uint32(h[8:12])) +
			uint64(be.Uint32(h[12:16])) + uint64(be.Uint32(h[16:20]))
	}
	var s uint64
	for len(h) >= 4 {
		s += uint64(binary.BigEndian.Uint32(h))
		h = h[4:]
	}
	return s
}

func foldSum(s uint64) uint16 {
	s = (s & 0xffffffff) + s>>32
	s = (s & 0xffffffff) + s>>32
	s = (s & 0xffff) + s>>16
	s = (s & 0xffff) + s>>16
	return uint16(s)
}

// annotatedHeader returns the IP header the Net annotation points at, with
// its header length and the IP total length clipped to nothing: ok is false
// unless version, IHL and total length are consistent with the bytes present.
func annotatedHeader(p *packet.Packet) (ip []byte, hlen, total int, ok bool) {
	ip = p.Network()
	if len(ip) < proto.IPv4MinHeaderLen || ip[0]>>4 != 4 {
		return nil, 0, 0, false
	}
	hlen = proto.IPv4HeaderLen(ip)
	total = int(binary.BigEndian.Uint16(ip[proto.IPOffLen:]))
	if hlen < proto.IPv4MinHeaderLen || total < hlen || total > len(ip) {
		return nil, 0, 0, false
	}
	return ip, hlen, total, true
}

// writableHeader makes p private and returns its annotated IP header.
func writableHeader(ctx *core.Ctx, p *packet.Packet) (ip []byte, hlen, total int, ok bool) {
	if _, _, _, ok = annotatedHeader(p); !ok {
		return nil, 0, 0, false
	}
	p.Writable(ctx.Pool) // may move the data to a new buffer: re-read below
	return annotatedHeader(p)
}

// divert sends a rejected packet to output 1 when it exists, otherwise
// drops it (counted in Base.Drops).
func divert(ctx *core.Ctx, b *core.Base, p *packet.Packet) {
	if b.NOutputs() > 1 {
		b.Emit(ctx, 1, p)
		return
	}
	b.Drop(ctx, p)
}

func addrU32(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

func u32Addr(v uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return netip.AddrFrom4(b)
}

// addrList parses a space-separated list of IPv4 addresses.
func addrList(dst *[]uint32) core.Value {
	return func(s string) error {
		for _, w := range core.SplitWords(s) {
			a, err := core.ParseIPv4(w)
			if err != nil {
				return err
			}
			*dst = append(*dst, addrU32(a))
		}
		return nil
	}
}

// hostPrefix is an interface address with its netmask ("18.26.4.24/24").
type hostPrefix struct {
	addr, mask uint32
}

// parseHostPrefix keeps the host part that ParseIPPrefix masks away.
func parseHostPrefix(s string) (hostPrefix, error) {
	host, _, _ := strings.Cut(s, "/")
	host, _, _ = strings.Cut(host, " ")
	a, err := core.ParseIPv4(strings.TrimSpace(host))
	if err != nil {
		return hostPrefix{}, err
	}
	pfx, err := core.ParseIPPrefix(s)
	if err != nil || !pfx.Addr().Is4() {
		return hostPrefix{}, fmt.Errorf("expected IP address/mask, got %q", s)
	}
	var mask uint32
	if pfx.Bits() > 0 {
		mask = ^uint32(0) << (32 - pfx.Bits())
	}
	return hostPrefix{addrU32(a), mask}, nil
}

func prefixList(dst *[]hostPrefix) core.Value {
	return func(s string) error {
		for _, w := range core.SplitWords(s) {
			hp, err := parseHostPrefix(w)
			if err != nil {
				return err
			}
			*dst = append(*dst, hp)
		}
		return nil
	}
}

var protoNames = map[string]uint8{
	"icmp": proto.ProtoICMP, "igmp": proto.ProtoIGMP, "ipip": proto.ProtoIPIP,
	"tcp": proto.ProtoTCP, "udp": proto.ProtoUDP, "ipv6": proto.ProtoIPv6,
	"gre": proto.ProtoGRE, "icmpv6": proto.ProtoICMPv6,
}

// protoValue parses an IP protocol by number or name.
func protoValue(dst *uint8) core.Value {
	return func(s string) error {
		if v, ok := protoNames[strings.ToLower(s)]; ok {
			*dst = v
			return nil
		}
		v, err := strconv.ParseUint(s, 0, 8)
		if err != nil {
			return fmt.Errorf("expected IP protocol, got %q", s)
		}
		*dst = uint8(v)
		return nil
	}
}

// dstValue parses an IPv4 address or the word DST_ANNO.
func dstValue(addr *[4]byte, useAnno *bool) core.Value {
	return func(s string) error {
		if s == "DST_ANNO" {
			*useAnno = true
			return nil
		}
		a, err := core.ParseIPv4(s)
		if err != nil {
			return err
		}
		*addr, *useAnno = a.As4(), false
		return nil
	}
}

func formatDst(addr [4]byte, useAnno bool) string {
	if useAnno {
		return "DST_ANNO"
	}
	return netip.AddrFrom4(addr).String()
}

func addrValue(dst *[4]byte) core.Value {
	return func(s string) error {
		a, err := core.ParseIPv4(s)
		if err == nil {
			*dst = a.As4()
		}
		return err
	}
}

func formatAddr(a [4]byte) string { return netip.AddrFrom4(a).String() }
