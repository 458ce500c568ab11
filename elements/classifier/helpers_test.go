package classifier

import (
	"encoding/binary"

	"flowbox/appliance/packet"
	"flowbox/elements/elemtest"
)

// frame builds Ethernet + IPv4 + UDP/TCP/ICMP bytes, total length n
// (at least 14+20+20).
func frame(proto byte, src, dst [4]byte, sport, dport uint16, n int) []byte {
	b := make([]byte, n)
	copy(b[0:6], []byte{2, 2, 2, 2, 2, 2})
	copy(b[6:12], []byte{1, 1, 1, 1, 1, 1})
	binary.BigEndian.PutUint16(b[12:], 0x0800)
	ip := b[14:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(n-14))
	ip[8], ip[9] = 64, proto
	copy(ip[12:], src[:])
	copy(ip[16:], dst[:])
	binary.BigEndian.PutUint16(ip[20:], sport)
	binary.BigEndian.PutUint16(ip[22:], dport)
	return b
}

var (
	hostA = [4]byte{10, 0, 0, 1}
	hostB = [4]byte{10, 0, 0, 2}
)

// ipPacket makes a harness packet with the MAC and IP annotations set.
func ipPacket(h *elemtest.Harness, data []byte) *packet.Packet {
	p := h.Packet(data)
	p.SetMacAt(0)
	p.SetNetworkAt(14)
	return p
}

// outputsOf returns, for each output, the ports (UDP src port field)
// of the packets collected there, as a packet identity.
func idsByOutput(h *elemtest.Harness) [][]uint16 {
	out := make([][]uint16, len(h.Outs))
	for i, c := range h.Outs {
		for _, p := range c.Pkts {
			out[i] = append(out[i], binary.BigEndian.Uint16(p.Data()[34:]))
		}
	}
	return out
}
