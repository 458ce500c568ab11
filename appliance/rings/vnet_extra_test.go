package rings

import (
	"encoding/binary"
	"testing"
)

// vnetHdr builds a virtio_net_hdr with NEEDS_CSUM.
func vnetHdr(start, off int) []byte {
	h := make([]byte, vnetHdrLen)
	h[vnetOffFlags] = vnetFNeedsCsum
	binary.LittleEndian.PutUint16(h[vnetOffCsumStart:], uint16(start))
	binary.LittleEndian.PutUint16(h[vnetOffCsumOff:], uint16(off))
	return h
}

// udpFrame is an Ethernet(+VLAN tag)/IPv4/UDP frame whose UDP checksum
// field holds only the pseudo-header sum, as CHECKSUM_PARTIAL leaves it.
func udpFrame(vlan bool, payload int) (d []byte, l4 int) {
	eth := 14
	if vlan {
		eth = 18
	}
	d = make([]byte, eth+20+8+payload)
	d[12], d[13] = 0x08, 0x00
	if vlan {
		d[12], d[13], d[14], d[15], d[16], d[17] = 0x81, 0x00, 0, 5, 0x08, 0x00
	}
	ip := d[eth:]
	ip[0], ip[9] = 0x45, 17
	binary.BigEndian.PutUint16(ip[2:], uint16(20+8+payload))
	copy(ip[12:], []byte{10, 254, 0, 1, 10, 254, 0, 2})
	u := ip[20:]
	binary.BigEndian.PutUint16(u[0:], 1234)
	binary.BigEndian.PutUint16(u[2:], 5678)
	binary.BigEndian.PutUint16(u[4:], uint16(8+payload))
	for i := 8; i < len(u); i++ {
		u[i] = byte(i * 13)
	}
	ph := sum16(ip[12:20]) + 17 + uint64(8+payload)
	binary.BigEndian.PutUint16(u[6:], fold(ph)) // not complemented
	return d, eth + 20
}

func TestVnetRXCompletesChecksum(t *testing.T) {
	for _, vlan := range []bool{false, true} {
		for _, n := range []int{0, 1, 33, 1000} {
			d, l4 := udpFrame(vlan, n)
			shift := 0
			if vlan {
				shift = 4 // the kernel's offsets do not count the tag RecvBatch puts back
			}
			p := &PacketPort{}
			p.vnetRX(vnetHdr(l4-shift, 6), d, shift)
			ip := d[l4-20:]
			s := sum16(ip[12:20]) + 17 + uint64(8+n) + sum16(d[l4:])
			if fold(s) != 0xffff {
				t.Errorf("vlan %v payload %d: checksum does not verify", vlan, n)
			}
			if p.ChecksumsCompleted() != 1 {
				t.Errorf("vlan %v payload %d: not counted", vlan, n)
			}
		}
	}
	// No NEEDS_CSUM: untouched. Offsets past the frame: untouched, counted.
	d, l4 := udpFrame(false, 10)
	orig := string(d)
	p := &PacketPort{}
	h := vnetHdr(l4, 6)
	h[vnetOffFlags] = 0
	p.vnetRX(h, d, 0)
	p.vnetRX(vnetHdr(l4, 60), d, 0)
	p.vnetRX(vnetHdr(2, 6), d, 0)
	if string(d) != orig || p.ChecksumsCompleted() != 0 || p.c.rxCsumBad.Load() != 2 {
		t.Fatalf("bad headers changed the frame or were not counted (bad %d)", p.c.rxCsumBad.Load())
	}
}

func TestVnetRXNoAllocs(t *testing.T) {
	d, l4 := udpFrame(false, 1000)
	h := vnetHdr(l4, 6)
	p := &PacketPort{}
	if a := testing.AllocsPerRun(100, func() { p.vnetRX(h, d, 0) }); a != 0 {
		t.Fatalf("%v allocs", a)
	}
}
