package icmp

import (
	"net"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"flowbox/appliance/packet"
	"flowbox/elements/elemtest"
)

func ipv4(src, dst string, pr layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, IHL: 5, TTL: 1, Protocol: pr, Id: 99,
		SrcIP: net.ParseIP(src).To4(), DstIP: net.ParseIP(dst).To4()}
}

func serialize(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

// udpPacket is an IPv4/UDP packet of size bytes.
func udpPacket(t testing.TB, src, dst string, size int) []byte {
	ip := ipv4(src, dst, layers.IPProtocolUDP)
	udp := &layers.UDP{SrcPort: 33434, DstPort: 33435}
	_ = udp.SetNetworkLayerForChecksum(ip)
	payload := make([]byte, size-28)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	return serialize(t, ip, udp, gopacket.Payload(payload))
}

// icmpPacket is an IPv4/ICMP packet of the given type and code.
func icmpPacket(t testing.TB, src, dst string, typ, code uint8, payload int) []byte {
	ic := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(typ, code), Id: 0x1234, Seq: 7}
	return serialize(t, ipv4(src, dst, layers.IPProtocolICMPv4), ic, gopacket.Payload(make([]byte, payload)))
}

// annotated makes a packet of data with the network annotation at off.
func annotated(h *elemtest.Harness, data []byte, off int) *packet.Packet {
	p := h.Packet(data)
	p.SetNetworkAt(off)
	return p
}

// refSum is an independent RFC 1071 sum used to verify checksums.
func refSum(data []byte) uint32 {
	var sum uint32
	for i := 0; i+1 < len(data); i += 2 {
		sum += uint32(data[i])<<8 | uint32(data[i+1])
	}
	if len(data)%2 == 1 {
		sum += uint32(data[len(data)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return sum
}

func corrupt(b []byte, f func([]byte)) []byte {
	c := append([]byte(nil), b...)
	f(c)
	return c
}
