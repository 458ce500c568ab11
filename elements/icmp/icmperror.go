package icmp

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
	"flowbox/appliance/proto"
)

const (
	// maxErrorLen caps the ICMP error datagram (IP header included) at the
	// minimum reassembly size every host accepts (RFC 1812 4.3.2.3).
	maxErrorLen = 576
	errHdrLen   = 20 + 8 // IP header + ICMP header of the error
	errTTL      = 255
)

// ICMPError turns offending IP packets into ICMP error messages.
type ICMPError struct {
	core.Base
	src       [4]byte
	icmpType  uint8
	icmpCode  uint8
	mtu       uint16
	badAddrs  []uint32
	generated uint64
	id        uint16
}

func init() {
	core.Register(core.Class{
		Name: "ICMPError", Ports: "1/1", Processing: "a/a",
		New: func() core.Element { return &ICMPError{mtu: 576} },
		Doc: core.Doc{
			Synopsis: "ICMPError(SRC, TYPE [, CODE], BADADDRS, MTU)",
			Summary:  "generates ICMP error packets",
			Description: `Replaces each input IP packet (found through the network-header
annotation) with an ICMP error about it, sent from SRC to the offending
packet's source. The error quotes the whole offending IP packet (header and
payload, without link padding), truncated so that the error datagram is at
most 576 bytes (RFC 1812 4.3.2.3); tracebox compares these quotes with what
it sent to find middlebox rewrites.

TYPE and CODE are numbers or names: timeexceeded [transit|reassembly],
unreachable [net|host|protocol|port|needfrag|srcroutefail|net-unknown|
host-unknown|isolated|net-prohibited|host-prohibited|tos-net|tos-host|
filterprohibited|host-precedence|precedence-cutoff], parameterproblem
[erroratptr|missingopt|length], redirect [net|host|tos-net|tos-host],
sourcequench. The code may follow the type in the same argument
("unreachable needfrag"). Only error types are accepted.

No error is generated (the packet is dropped and counted) for: ICMP error
messages, fragments other than the first, packets whose source is not a
single host (0.0.0.0, 127/8, multicast, 240/4 including 255.255.255.255) or
is in BADADDRS, packets sent to multicast, 255.255.255.255 or a BADADDRS
address, packets that arrived as link-level broadcast or multicast (per
the Ethernet header annotation), and packets with a malformed IP header.

unreachable needfrag reports MTU as the next-hop MTU; redirect reports the
packet's destination-IP annotation as the gateway; the parameterproblem
pointer is 0. The output is an IP packet (no link header) with the
network, transport and destination-IP annotations set (destination = the
offending source), ready to go back into routing.`,
			Ports: "input 0: annotated IP packets that caused an error; output 0: ICMP error packets",
			Args: []core.Item{
				{Name: "SRC", Text: "IP address, the error's source (mandatory)"},
				{Name: "TYPE", Text: "ICMP error type, number or name, optionally followed by the code (mandatory)"},
				{Name: "CODE", Text: "ICMP code, number or name (default 0)"},
				{Name: "BADADDRS", Text: "space-separated addresses never answered (to or from)"},
				{Name: "MTU", Text: "integer, next-hop MTU for unreachable needfrag (default 576)"},
			},
			Handlers: []core.Item{
				{Name: "count", Text: "read: ICMP errors generated"},
				{Name: "drops", Text: "read: packets not answered"},
			},
			Example: "dec :: DecIPTTL; dec[1] -> ICMPError(10.0.0.1, timeexceeded) -> rt;",
		},
	})
}

// Configure parses the arguments.
func (e *ICMPError) Configure(a *core.Args) error {
	var src netip.Addr
	var typ, code string
	mtu := int(e.mtu)
	err := a.Parse(
		core.Pos("SRC", core.IPv4(&src)).Required(),
		core.Pos("TYPE", core.Word(&typ)).Required(),
		core.Pos("CODE", core.Word(&code)),
		core.Key("BADADDRS", addrList(&e.badAddrs)),
		core.Key("MTU", core.Int(&mtu)),
	)
	if err != nil {
		return err
	}
	if mtu < 68 || mtu > 0xffff {
		return fmt.Errorf("MTU: must be between 68 and 65535")
	}
	e.src, e.mtu = src.As4(), uint16(mtu)
	return e.setTypeCode(typ, code)
}

func (e *ICMPError) setTypeCode(typ, code string) error {
	words := core.SplitWords(typ)
	if len(words) == 2 && code == "" {
		typ, code = words[0], words[1]
	} else if len(words) != 1 {
		return fmt.Errorf("TYPE: expected ICMP type [code], got %q", typ)
	}
	t, err := parseType(typ)
	if err != nil {
		return fmt.Errorf("TYPE: %v", err)
	}
	if !isErrorType(t) {
		return fmt.Errorf("TYPE: ICMP type %d is not an error type", t)
	}
	e.icmpType = t
	if code == "" {
		return nil
	}
	if e.icmpCode, err = parseCode(t, code); err != nil {
		return fmt.Errorf("CODE: %v", err)
	}
	return nil
}

// Process replaces each packet of the batch by its ICMP error, or drops it.
func (e *ICMPError) Process(ctx *core.Ctx, b *packet.Batch) {
	j := 0
	for i := 0; i < b.N; i++ {
		p := b.P[i]
		q := e.errorFor(ctx, p)
		if q == nil {
			e.Drop(ctx, p)
			continue
		}
		ctx.Pool.Free(p)
		e.generated++
		b.P[j] = q
		j++
	}
	clear(b.P[j:b.N])
	b.N = j
}

// errorFor builds the ICMP error about p, or returns nil when p must not
// be answered.
func (e *ICMPError) errorFor(ctx *core.Ctx, p *packet.Packet) *packet.Packet {
	ip := offendingPacket(p)
	if ip == nil || !e.answerable(p, ip) {
		return nil
	}
	quote := min(len(ip), maxErrorLen-errHdrLen)
	q := ctx.Pool.New(errHdrLen + quote)
	d := q.Data()
	copy(d[errHdrLen:], ip[:quote])
	e.writeIPHeader(d, ip[proto.IPOffSrc:proto.IPOffSrc+4])
	e.writeICMPHeader(d[20:], p)
	q.SetNetworkAt(0)
	q.SetTransportAt(20)
	copy(q.Anno.DstIP[:], d[proto.IPOffDst:proto.IPOffDst+4])
	q.Anno.Timestamp = p.Anno.Timestamp
	return q
}

// offendingPacket returns the annotated IP packet without link padding,
// or nil when its header is malformed.
func offendingPacket(p *packet.Packet) []byte {
	ip := p.Network()
	if len(ip) < proto.IPv4MinHeaderLen || ip[0]>>4 != 4 {
		return nil
	}
	hlen := proto.IPv4HeaderLen(ip)
	total := int(binary.BigEndian.Uint16(ip[proto.IPOffLen:]))
	if hlen < proto.IPv4MinHeaderLen || total < hlen || hlen > len(ip) {
		return nil
	}
	// A truncated packet (total > bytes present) is quoted as far as it goes.
	return ip[:min(total, len(ip))]
}

// answerable applies RFC 1812 4.3.2.7: which packets get no ICMP error.
func (e *ICMPError) answerable(p *packet.Packet, ip []byte) bool {
	if !proto.IsFirstFragment(ip) {
		return false
	}
	src, dst := binary.BigEndian.Uint32(ip[proto.IPOffSrc:]), binary.BigEndian.Uint32(ip[proto.IPOffDst:])
	if !singleHost(src) || dst>>28 == 0xe || dst == 0xffffffff || contains(e.badAddrs, src) || contains(e.badAddrs, dst) {
		return false
	}
	if mac := p.MacHeader(); len(mac) >= 6 && mac[0]&1 != 0 {
		return false // link-level broadcast or multicast
	}
	if ip[proto.IPOffProto] == proto.ProtoICMP {
		hlen := proto.IPv4HeaderLen(ip)
		return len(ip) > hlen && !isErrorType(ip[hlen])
	}
	return true
}

// singleHost reports whether src names one host: not 0/8, loopback,
// multicast or 240/4 (which includes the limited broadcast).
func singleHost(src uint32) bool {
	first := src >> 24
	return first != 0 && first != 127 && first < 224
}

func (e *ICMPError) writeIPHeader(d []byte, dst []byte) {
	h := d[:20]
	h[0], h[1] = 0x45, 0
	binary.BigEndian.PutUint16(h[proto.IPOffLen:], uint16(len(d)))
	binary.BigEndian.PutUint16(h[proto.IPOffID:], e.id)
	e.id++
	binary.BigEndian.PutUint16(h[proto.IPOffFrag:], 0)
	h[proto.IPOffTTL], h[proto.IPOffProto] = errTTL, proto.ProtoICMP
	copy(h[proto.IPOffSrc:], e.src[:])
	copy(h[proto.IPOffDst:], dst)
	proto.SetIPv4Checksum(h)
}

func (e *ICMPError) writeICMPHeader(icmp []byte, p *packet.Packet) {
	icmp[0], icmp[1] = e.icmpType, e.icmpCode
	binary.BigEndian.PutUint32(icmp[4:], 0)
	switch {
	case e.icmpType == proto.ICMPUnreachable && e.icmpCode == 4:
		binary.BigEndian.PutUint16(icmp[6:], e.mtu)
	case e.icmpType == proto.ICMPRedirect:
		copy(icmp[4:8], p.Anno.DstIP[:])
	}
	icmp[2], icmp[3] = 0, 0
	binary.BigEndian.PutUint16(icmp[proto.ICMPOffSum:], proto.Checksum(icmp))
}

// Handlers exposes the counters.
func (e *ICMPError) Handlers() []core.Handler {
	return []core.Handler{
		core.ReadUint("count", &e.generated),
		core.ReadUint("drops", &e.Drops),
	}
}

func contains(list []uint32, v uint32) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// addrList parses a space-separated list of IPv4 addresses.
func addrList(dst *[]uint32) core.Value {
	return func(s string) error {
		for _, w := range core.SplitWords(s) {
			a, err := core.ParseIPv4(w)
			if err != nil {
				return err
			}
			b := a.As4()
			*dst = append(*dst, binary.BigEndian.Uint32(b[:]))
		}
		return nil
	}
}
