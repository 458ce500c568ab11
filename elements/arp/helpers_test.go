package arp

import (
	"encoding/binary"
	"net"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

var (
	ourMAC   = net.HardwareAddr{0x00, 0x11, 0x22, 0x33, 0x44, 0x55}
	peerMAC  = net.HardwareAddr{0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb}
	otherMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x09}
)

// arpFrame builds an Ethernet ARP packet with gopacket (padded to 60 bytes
// like a real minimum-size frame when pad is true).
func arpFrame(t testing.TB, op uint16, sha net.HardwareAddr, spa string, tha net.HardwareAddr, tpa string, pad bool) []byte {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: sha, DstMAC: layers.EthernetBroadcast, EthernetType: layers.EthernetTypeARP}
	if op == layers.ARPReply {
		eth.DstMAC = tha
	}
	a := &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6,
		ProtAddressSize: 4, Operation: op, SourceHwAddress: sha, SourceProtAddress: net.ParseIP(spa).To4(),
		DstHwAddress: tha, DstProtAddress: net.ParseIP(tpa).To4()}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{}, eth, a); err != nil {
		t.Fatal(err)
	}
	b := append([]byte(nil), buf.Bytes()...)
	if pad {
		b = append(b, make([]byte, 60-len(b))...)
	}
	return b
}

// decodeARP parses an Ethernet ARP frame with gopacket.
func decodeARP(t testing.TB, b []byte) (*layers.Ethernet, *layers.ARP) {
	t.Helper()
	pkt := gopacket.NewPacket(b, layers.LayerTypeEthernet, gopacket.Default)
	eth, _ := pkt.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	a, _ := pkt.Layer(layers.LayerTypeARP).(*layers.ARP)
	if eth == nil || a == nil {
		t.Fatalf("not an ARP frame: %v", pkt)
	}
	return eth, a
}

func ipU32(s string) uint32 { return binary.BigEndian.Uint32(net.ParseIP(s).To4()) }
