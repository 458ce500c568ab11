package ip

import (
	"encoding/binary"
	"net"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// ipv4 returns a gopacket IPv4 layer with the given addresses and TTL.
func ipv4(src, dst string, ttl uint8, pr layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, IHL: 5, TTL: ttl, Protocol: pr, Id: 7,
		SrcIP: net.ParseIP(src).To4(), DstIP: net.ParseIP(dst).To4()}
}

// serialize builds packet bytes with lengths and checksums filled in by
// gopacket (an implementation independent of the code under test).
func serialize(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, ls...); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

// udpPacket is an IPv4/UDP packet of exactly size bytes.
func udpPacket(t testing.TB, src, dst string, ttl uint8, size int) []byte {
	ip := ipv4(src, dst, ttl, layers.IPProtocolUDP)
	udp := &layers.UDP{SrcPort: 1234, DstPort: 5678}
	_ = udp.SetNetworkLayerForChecksum(ip)
	payload := make([]byte, size-28)
	for i := range payload {
		payload[i] = byte(i)
	}
	return serialize(t, ip, udp, gopacket.Payload(payload))
}

func tcpPacket(t testing.TB, src, dst string, payload int) []byte {
	ip := ipv4(src, dst, 64, layers.IPProtocolTCP)
	tcp := &layers.TCP{SrcPort: 80, DstPort: 4321, Seq: 100, Ack: 200, ACK: true, Window: 1000, DataOffset: 5}
	_ = tcp.SetNetworkLayerForChecksum(ip)
	return serialize(t, ip, tcp, gopacket.Payload(make([]byte, payload)))
}

// refSum is a plain RFC 1071 16-bit one's-complement sum, written
// independently of the package's checksum code.
func refSum(data []byte, sum uint32) uint32 {
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

// ipSumValid recomputes the whole IP header checksum.
func ipSumValid(ip []byte) bool {
	return refSum(ip[:int(ip[0]&0xf)*4], 0) == 0xffff
}

// transportSumValid checks a TCP/UDP checksum including the pseudo-header.
func transportSumValid(ip []byte) bool {
	hl := int(ip[0]&0xf) * 4
	total := int(binary.BigEndian.Uint16(ip[2:]))
	seg := ip[hl:total]
	var pseudo [12]byte
	copy(pseudo[:8], ip[12:20])
	pseudo[9] = ip[9]
	binary.BigEndian.PutUint16(pseudo[10:], uint16(len(seg)))
	return refSum(seg, refSum(pseudo[:], 0)) == 0xffff
}

// corrupt returns a copy of b with f applied.
func corrupt(b []byte, f func([]byte)) []byte {
	c := append([]byte(nil), b...)
	f(c)
	return c
}

// fixSum recomputes the IP header checksum of c (for cases that must fail
// on something other than the checksum).
func fixSum(c []byte) {
	hl := int(c[0]&0xf) * 4
	if hl < 20 || hl > len(c) {
		hl = 20
	}
	c[10], c[11] = 0, 0
	binary.BigEndian.PutUint16(c[10:], ^uint16(refSum(c[:hl], 0)))
}
