// Package arp holds ARPResponder and ARPQuerier (Click's elements/ethernet
// ARP elements). Their lookups scan small slices or probe a fixed
// open-addressing table keyed by the 4-byte IP: no Go map on the packet
// path.
package arp

import (
	"encoding/binary"
	"net"
	"net/netip"

	"flowbox/appliance/packet"
	"flowbox/appliance/proto"
)

// An ARP packet over Ethernet: 14-byte Ethernet header + 28-byte ARP body.
const (
	frameLen  = proto.EtherHeaderLen + 28
	offOp     = 20 // ARP operation
	offSHA    = 22 // sender hardware address
	offSPA    = 28 // sender protocol address
	offTHA    = 32 // target hardware address
	offTPA    = 38 // target protocol address
	opRequest = 1
	opReply   = 2
)

var broadcastMAC = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// ethernetARP reports whether d is an Ethernet/IPv4 ARP packet of operation op.
func ethernetARP(d []byte, op uint16) bool {
	return len(d) >= frameLen &&
		binary.BigEndian.Uint16(d[12:]) == proto.EtherTypeARP &&
		binary.BigEndian.Uint16(d[14:]) == 1 && // hardware type Ethernet
		binary.BigEndian.Uint16(d[16:]) == proto.EtherTypeIPv4 &&
		d[18] == 6 && d[19] == 4 &&
		binary.BigEndian.Uint16(d[offOp:]) == op
}

// writeARP fills a 42-byte Ethernet ARP frame.
func writeARP(d []byte, ethDst, sha [6]byte, spa uint32, tha [6]byte, tpa uint32, op uint16) {
	copy(d[0:6], ethDst[:])
	copy(d[6:12], sha[:])
	binary.BigEndian.PutUint16(d[12:], proto.EtherTypeARP)
	binary.BigEndian.PutUint16(d[14:], 1)
	binary.BigEndian.PutUint16(d[16:], proto.EtherTypeIPv4)
	d[18], d[19] = 6, 4
	binary.BigEndian.PutUint16(d[offOp:], op)
	copy(d[offSHA:], sha[:])
	binary.BigEndian.PutUint32(d[offSPA:], spa)
	copy(d[offTHA:], tha[:])
	binary.BigEndian.PutUint32(d[offTPA:], tpa)
}

// trimTo shortens p to n bytes (dropping link padding) when longer.
func trimTo(p *packet.Packet, n int) {
	if p.Len() > n {
		p.Take(p.Len() - n)
	}
}

func addrU32(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

func formatIP(v uint32) string {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return netip.AddrFrom4(b).String()
}

func formatMAC(m [6]byte) string { return net.HardwareAddr(m[:]).String() }

func maskOf(bits int) uint32 {
	if bits == 0 {
		return 0
	}
	return ^uint32(0) << (32 - bits)
}
