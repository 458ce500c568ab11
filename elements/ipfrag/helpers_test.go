package ipfrag

import (
	"testing"

	"flowbox/appliance/packet"
	"flowbox/appliance/proto"
	"flowbox/elements/elemtest"
)

// datagram builds an IPv4 datagram with the given options (padded by the
// caller to a multiple of 4), payload length, id and flags.
func datagram(id uint16, opts []byte, payload int, flags uint16) []byte {
	hl := 20 + len(opts)
	d := make([]byte, hl+payload)
	d[0] = 0x40 | byte(hl/4)
	proto.Put16(d, proto.IPOffLen, uint16(len(d)))
	proto.Put16(d, proto.IPOffID, id)
	proto.Put16(d, proto.IPOffFrag, flags)
	d[proto.IPOffTTL] = 64
	d[proto.IPOffProto] = proto.ProtoUDP
	copy(d[12:], []byte{10, 0, 0, 1, 10, 0, 0, 2})
	copy(d[20:], opts)
	for i := hl; i < len(d); i++ {
		d[i] = byte(i*7 + int(id))
	}
	proto.SetIPv4Checksum(d)
	return d
}

// ipPacket makes a packet holding link (maybe empty) then ip, with the IP
// header annotation set.
func ipPacket(h *elemtest.Harness, link, ip []byte) *packet.Packet {
	if len(link) == 0 { // no copy: keeps allocation tests honest
		p := h.Packet(ip)
		p.SetNetworkAt(0)
		return p
	}
	p := h.Packet(append(append([]byte(nil), link...), ip...))
	p.SetNetworkAt(len(link))
	return p
}

// checkHeader asserts an IP header's checksum is right.
func checkHeader(t *testing.T, ip []byte) {
	t.Helper()
	if proto.Checksum(ip[:proto.IPv4HeaderLen(ip)]) != 0 {
		t.Fatalf("bad IP header checksum in % x", ip[:proto.IPv4HeaderLen(ip)])
	}
}

// fragmentVia runs a datagram through IPFragmenter(mtu) and returns the
// fragments' IP bytes.
func fragmentVia(t *testing.T, d []byte, mtu string) [][]byte {
	t.Helper()
	h := elemtest.New(t, "IPFragmenter", mtu, 1, 1)
	h.PushPackets(0, ipPacket(h, nil, d))
	var out [][]byte
	for _, p := range h.Outs[0].Pkts {
		out = append(out, append([]byte(nil), p.Network()...))
	}
	return out
}
