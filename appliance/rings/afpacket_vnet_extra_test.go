package rings_test

import (
	"encoding/binary"
	"net"
	"testing"
	"time"

	"flowbox/appliance/packet"
	"flowbox/appliance/rings"
	"flowbox/tests/netns/nsenv"
)

// l4ChecksumOK verifies the TCP or UDP checksum of an untagged
// Ethernet/IPv4 frame against the IPv4 pseudo-header.
func l4ChecksumOK(t *testing.T, d []byte) (proto byte, ok bool) {
	t.Helper()
	if len(d) < 34 || binary.BigEndian.Uint16(d[12:]) != 0x0800 {
		t.Fatalf("not IPv4: % x", d[:min(len(d), 34)])
	}
	ip := d[14:]
	ihl := int(ip[0]&15) * 4
	tot := int(binary.BigEndian.Uint16(ip[2:]))
	proto = ip[9]
	l4 := ip[ihl:tot]
	var s uint32
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			s += uint32(b[i])<<8 | uint32(b[i+1])
		}
		if len(b)%2 == 1 {
			s += uint32(b[len(b)-1]) << 8
		}
	}
	add(ip[12:20])
	s += uint32(proto) + uint32(len(l4))
	add(l4)
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return proto, s == 0xffff
}

// TestVnetHdrCompletesChecksum sends UDP and TCP from the kernel stack of
// a namespace through a veth whose TX checksum offload is on (the
// default): the frames reach the peer with their checksum unfinished
// (CHECKSUM_PARTIAL). The PACKET port on the peer must hand them over
// with a correct checksum.
func TestVnetHdrCompletesChecksum(t *testing.T) {
	if why := nsenv.Available(); why != "" {
		t.Skip(why)
	}
	e := nsenv.NewPrefixed("fbxr")
	t.Cleanup(e.Close)
	ns, err := e.AddNS("c")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Veth(ns, "va", ns, "vb"); err != nil {
		t.Fatal(err)
	}
	if err := nsenv.IP("-n", ns, "addr", "add", "10.254.1.1/24", "dev", "va"); err != nil {
		t.Fatal(err)
	}
	// The peer address is "on" vb's side; a static neighbour avoids ARP.
	if err := nsenv.IP("-n", ns, "neigh", "replace", "10.254.1.2", "lladdr", "02:fb:00:00:01:02", "dev", "va", "nud", "permanent"); err != nil {
		t.Fatal(err)
	}
	var p rings.Port
	err = nsenv.Run(ns, func() error {
		var err error
		if p, err = rings.Open("vb", rings.MethodPacket, rings.Options{}); err != nil {
			return err
		}
		return p.(rings.RXStarter).StartRX(rings.Options{Sniffer: true})
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	pp := p.(*rings.PacketPort)
	if !pp.VnetHdr() {
		t.Skip("kernel refuses PACKET_VNET_HDR")
	}

	var udp net.Conn
	if err := nsenv.Run(ns, func() (err error) {
		udp, err = net.Dial("udp4", "10.254.1.2:7000")
		return
	}); err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	// Odd and even payload lengths (the sum pads an odd last byte).
	for _, n := range []int{1, 2, 17, 600, 1400} {
		msg := make([]byte, n)
		for i := range msg {
			msg[i] = byte(i*7 + n)
		}
		if _, err := udp.Write(msg); err != nil {
			t.Fatal(err)
		}
	}
	// A TCP SYN (connect to nobody; it is retransmitted until we stop).
	go nsenv.Run(ns, func() error {
		c, err := net.DialTimeout("tcp4", "10.254.1.2:7001", 1500*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return nil
	})

	pool := packet.NewPool(nil)
	var b packet.Batch
	udpOK, tcpOK := 0, 0
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline) && (udpOK < 5 || tcpOK < 1); {
		if p.RecvBatch(pool, &b, packet.MaxBatch); b.N == 0 {
			time.Sleep(5 * time.Millisecond)
			continue
		}
		for i := 0; i < b.N; i++ {
			d := b.P[i].Data()
			if len(d) < 34 || binary.BigEndian.Uint16(d[12:]) != 0x0800 {
				continue
			}
			proto, ok := l4ChecksumOK(t, d)
			if !ok {
				t.Errorf("IP protocol %d frame of %d bytes: bad checksum", proto, len(d))
				continue
			}
			switch proto {
			case 17:
				udpOK++
			case 6:
				tcpOK++
			}
		}
		pool.FreeBatch(&b)
	}
	if udpOK < 5 || tcpOK < 1 {
		t.Fatalf("got %d good UDP of 5 and %d good TCP frames; stats %+v", udpOK, tcpOK, p.Stats())
	}
	// The test is only meaningful if veth really left the checksums to
	// offload: every one of these frames needed completing.
	if c := pp.ChecksumsCompleted(); c < 6 {
		t.Fatalf("only %d frames came with NEEDS_CSUM: is TX checksum offload off on va?", c)
	}
}
