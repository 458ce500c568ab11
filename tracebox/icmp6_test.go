package tracebox_test

import (
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"flowbox/tracebox"
)

// TestICMPAfterIPv6 checks that icmp{} after ipv6{} is an ICMPv6 message
// (next header 58, echo request 8 -> 128, a valid ICMPv6 checksum), and
// that after ip{} it stays ICMPv4.
func TestICMPAfterIPv6(t *testing.T) {
	for _, c := range []struct {
		expr  string
		typ   uint8
		v6    bool
		proto uint8
	}{
		{`ipv6{src="fd00::2", dst="fd00::1"} / icmp{type=8}`, 128, true, 58},
		{`ipv6{src="fd00::2", dst="fd00::1"} / icmp{type=135}`, 135, true, 58},
		{`ip{src="10.0.0.2", dst="10.0.0.1"} / icmp{type=8}`, 8, false, 1},
	} {
		p, err := tracebox.ParseProbe(c.expr)
		if err != nil {
			t.Fatal(err)
		}
		b, err := tracebox.Craft(p, 5)
		if err != nil {
			t.Fatal(err)
		}
		if !c.v6 {
			if b[9] != c.proto || b[20] != c.typ {
				t.Fatalf("%s: % x", c.expr, b)
			}
			continue
		}
		pk := gopacket.NewPacket(b, layers.LayerTypeIPv6, gopacket.Default)
		ic, ok := pk.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6)
		if b[6] != c.proto || !ok || ic.TypeCode.Type() != c.typ {
			t.Fatalf("%s: % x", c.expr, b)
		}
		// verify the checksum: recompute over the pseudo-header
		ip := pk.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
		want := ic.Checksum
		ic2 := *ic
		ic2.SetNetworkLayerForChecksum(ip)
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true}, &ic2, gopacket.Payload(ic.Payload)); err != nil {
			t.Fatal(err)
		}
		got := uint16(buf.Bytes()[2])<<8 | uint16(buf.Bytes()[3])
		if got != want {
			t.Fatalf("%s: ICMPv6 checksum %#x, want %#x", c.expr, want, got)
		}
	}
}
