// Package ids holds the intrusion-detection elements: FlowMeter, a
// per-5-tuple flow cache with packet and byte counts, and PatternMatch,
// Aho-Corasick signature matching over TCP and UDP payloads.
package ids

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"flowbox/appliance/flowtable"
	"flowbox/appliance/packet"
	"flowbox/appliance/proto"
)

// tuple is a flow's 5-tuple in host byte order, for printing.
type tuple flowtable.Tuple

func (t tuple) String() string {
	name := fmt.Sprint(t.Proto)
	switch t.Proto {
	case proto.ProtoTCP:
		name = "tcp"
	case proto.ProtoUDP:
		name = "udp"
	case proto.ProtoICMP:
		name = "icmp"
	}
	return fmt.Sprintf("%s %s:%d > %s:%d", name, addr(t.Src), t.Sport, addr(t.Dst), t.Dport)
}

func addr(a uint32) string {
	return netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}).String()
}

// ipHeader returns the IPv4 datagram at the network annotation (or at the
// start of the data when unset), without link-layer padding, or nil when
// it is not a well-formed IPv4 header.
func ipHeader(p *packet.Packet) []byte { return proto.IPv4Datagram(p.NetworkOrData()) }

// flowOf reads the 5-tuple of an IPv4 packet, packed. TCP and UDP (first
// fragments) carry their ports, ICMP its type and code as the source
// "port"; everything else has ports 0. ok is false for a TCP/UDP first
// fragment too short for its ports (the key then has ports 0).
func flowOf(ip []byte) (k flowtable.Key, ok bool) {
	addrs, ipProto := binary.BigEndian.Uint64(ip[proto.IPOffSrc:]), ip[proto.IPOffProto]
	var ports uint32 // source port << 16 | destination port
	ok = true
	if proto.IsFirstFragment(ip) {
		l4 := ip[int(ip[0]&0x0f)<<2:]
		switch ipProto {
		case proto.ProtoTCP, proto.ProtoUDP:
			if ok = len(l4) >= 4; ok {
				ports = binary.BigEndian.Uint32(l4)
			}
		case proto.ProtoICMP:
			if len(l4) >= 2 {
				ports = uint32(proto.U16(l4, 0)) << 16
			}
		}
	}
	return flowtable.WireKey(addrs, ports, ipProto), ok
}

// payload returns the TCP or UDP payload of an IPv4 first fragment, and
// false for other packets or truncated transport headers.
func payload(ip []byte) ([]byte, bool) {
	if !proto.IsFirstFragment(ip) {
		return nil, false
	}
	l4 := ip[int(ip[0]&0x0f)<<2:]
	switch ip[proto.IPOffProto] {
	case proto.ProtoTCP:
		if len(l4) < proto.TCPMinHeaderLen {
			return nil, false
		}
		off := int(l4[proto.TCPOffDataOff]>>4) << 2
		if off < proto.TCPMinHeaderLen || off > len(l4) {
			return nil, false
		}
		return l4[off:], true
	case proto.ProtoUDP:
		if len(l4) < proto.UDPHeaderLen {
			return nil, false
		}
		return l4[proto.UDPHeaderLen:], true
	}
	return nil, false
}
