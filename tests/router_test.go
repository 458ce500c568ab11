package tests

import (
	"bytes"
	"flag"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

var update = flag.Bool("update", false, "rewrite golden files in tests/testdata")

var (
	macRouter0 = net.HardwareAddr{0x00, 0x00, 0xc0, 0xae, 0x67, 0xef}
	macRouter1 = net.HardwareAddr{0x00, 0x00, 0xc0, 0x4f, 0x71, 0xef}
	macA       = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x02} // host A on eth0, 10.0.0.2
	macB       = net.HardwareAddr{0x02, 0, 0, 0, 1, 0x02} // host B on eth1, 10.0.1.2
	ipR0       = net.IP{10, 0, 0, 1}
	ipR1       = net.IP{10, 0, 1, 1}
	ipA        = net.IP{10, 0, 0, 2}
	ipB        = net.IP{10, 0, 1, 2}
	bcast      = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
)

func serialize(t *testing.T, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func arpFrame(t *testing.T, op uint16, srcMAC net.HardwareAddr, srcIP net.IP, dstMAC net.HardwareAddr, dstIP net.IP) []byte {
	ethDst := dstMAC
	if op == layers.ARPRequest {
		ethDst = bcast
	}
	return serialize(t,
		&layers.Ethernet{SrcMAC: srcMAC, DstMAC: ethDst, EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: op, SourceHwAddress: srcMAC, SourceProtAddress: srcIP, DstHwAddress: dstMAC, DstProtAddress: dstIP})
}

func udpFrame(t *testing.T, dstMAC net.HardwareAddr, ttl uint8, df bool, size int, id uint16) []byte {
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: ttl, Id: id, Protocol: layers.IPProtocolUDP, SrcIP: ipA, DstIP: ipB}
	if df {
		ip.Flags = layers.IPv4DontFragment
	}
	udp := &layers.UDP{SrcPort: 1000, DstPort: 2000}
	udp.SetNetworkLayerForChecksum(ip)
	payload := bytes.Repeat([]byte{byte(id)}, size)
	return serialize(t, &layers.Ethernet{SrcMAC: macA, DstMAC: dstMAC, EthernetType: layers.EthernetTypeIPv4}, ip, udp, gopacket.Payload(payload))
}

func pingFrame(t *testing.T) []byte {
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Id: 77, Protocol: layers.IPProtocolICMPv4, SrcIP: ipA, DstIP: ipR0}
	return serialize(t, &layers.Ethernet{SrcMAC: macA, DstMAC: macRouter0, EthernetType: layers.EthernetTypeIPv4}, ip,
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 9, Seq: 1}, gopacket.Payload("ping!"))
}

// routerInput is the traffic of the scenario, in order, with what each
// frame should cause.
func routerInput(t *testing.T) [][]byte {
	badSum := udpFrame(t, macRouter0, 64, false, 20, 5)
	badSum[24] ^= 0xff // corrupt the IP header checksum
	return [][]byte{
		arpFrame(t, layers.ARPRequest, macA, ipA, net.HardwareAddr{0, 0, 0, 0, 0, 0}, ipR0), // -> ARP reply on eth0
		udpFrame(t, macRouter0, 64, false, 20, 1),                                           // -> ARP query on eth1, held
		arpFrame(t, layers.ARPReply, macB, ipB, macRouter1, ipR1),                           // -> releases UDP 1 (TTL 63) on eth1
		udpFrame(t, macRouter0, 1, false, 20, 2),                                            // -> time exceeded to A: ARP query on eth0, held
		arpFrame(t, layers.ARPReply, macA, ipA, macRouter0, ipR0),                           // -> releases the ICMP error on eth0
		pingFrame(t), // -> echo reply on eth0
		udpFrame(t, macRouter0, 64, false, 1400, 3), // -> two fragments on eth1 (MTU 1000)
		udpFrame(t, macRouter0, 64, true, 1400, 4),  // -> needfrag to A on eth0
		badSum, // -> dropped by CheckIPHeader (counted)
		udpFrame(t, macRouter0, 64, false, 20, 6)[:30], // truncated: dropped, never a panic
	}
}

func writePcap(t *testing.T, path string, frames [][]byte) {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	w.WriteFileHeader(65535, layers.LinkTypeEthernet)
	ts := time.Unix(1700000000, 0)
	for i, fr := range frames {
		w.WritePacket(gopacket.CaptureInfo{Timestamp: ts.Add(time.Duration(i) * time.Millisecond), CaptureLength: len(fr), Length: len(fr)}, fr)
	}
}

func readPcap(t *testing.T, path string) [][]byte {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for {
		data, _, err := r.ReadPacketData()
		if err != nil {
			return out
		}
		out = append(out, data)
	}
}

func decode(data []byte) gopacket.Packet {
	return gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
}

func TestTwoInterfaceRouterFromPcap(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.pcap")
	writePcap(t, in, routerInput(t))
	conf, _ := filepath.Abs("testdata/router/router.click")
	out0, out1 := filepath.Join(dir, "out0.pcap"), filepath.Join(dir, "out1.pcap")
	stdout, stderr, code := flowbox(t, "", "run", conf, "IN="+in, "OUT0="+out0, "OUT1="+out1, "-h", "bad.count", "-h", "chk.drops")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if stdout != "bad.count:\n2\n\nchk.drops:\n2\n\n" {
		t.Errorf("handlers after run: %q (want the bad checksum and the truncated frame counted)", stdout)
	}
	eth0, eth1 := readPcap(t, out0), readPcap(t, out1)
	checkEth0(t, eth0)
	checkEth1(t, eth1)
	compareGolden(t, "router/out0.golden.pcap", out0)
	compareGolden(t, "router/out1.golden.pcap", out1)
}

// checkEth0 checks what left eth0, by kind: the ARP reply for 10.0.0.1,
// the echo reply, the time-exceeded error quoting the whole 48-byte
// packet, and the needfrag error with the eth1 MTU. (A's MAC is learned
// from its ARP reply in the same input batch, so no query is sent.)
func checkEth0(t *testing.T, frames [][]byte) {
	seen := map[string]int{}
	for i, f := range frames {
		p := decode(f)
		eth := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
		if !bytes.Equal(eth.SrcMAC, macRouter0) || !bytes.Equal(eth.DstMAC, macA) {
			t.Errorf("eth0 frame %d: MACs %v -> %v", i, eth.SrcMAC, eth.DstMAC)
		}
		if arp, ok := p.Layer(layers.LayerTypeARP).(*layers.ARP); ok {
			if arp.Operation == layers.ARPReply && net.IP(arp.SourceProtAddress).Equal(ipR0) && bytes.Equal(arp.SourceHwAddress, macRouter0) {
				seen["arp-reply"]++
			}
			continue
		}
		icmp, ok := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
		if !ok || p.ErrorLayer() != nil || !ipChecksumOK(f[14:34]) {
			t.Errorf("eth0 frame %d is not a valid ICMP packet: %v", i, p)
			continue
		}
		switch icmp.TypeCode {
		case layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoReply, 0):
			if string(icmp.Payload) == "ping!" {
				seen["echo-reply"]++
			}
		case layers.CreateICMPv4TypeCode(layers.ICMPv4TypeTimeExceeded, layers.ICMPv4CodeTTLExceeded):
			// RFC 1812 style: the whole offending packet is quoted.
			if len(icmp.Payload) == 48 {
				seen["time-exceeded"]++
			}
		case layers.CreateICMPv4TypeCode(layers.ICMPv4TypeDestinationUnreachable, layers.ICMPv4CodeFragmentationNeeded):
			if icmp.Seq == 1000 { // next-hop MTU field
				seen["needfrag"]++
			}
		}
	}
	for _, kind := range []string{"arp-reply", "echo-reply", "time-exceeded", "needfrag"} {
		if seen[kind] != 1 {
			t.Errorf("eth0: %d %s frames, want 1 (all: %v)", seen[kind], kind, seen)
		}
	}
	if len(frames) != 4 {
		t.Errorf("eth0 sent %d frames, want 4", len(frames))
	}
}

func checkEth1(t *testing.T, frames [][]byte) {
	if len(frames) != 4 {
		t.Fatalf("eth1 sent %d frames, want 4 (ARP query, UDP, two fragments)", len(frames))
	}
	q := decode(frames[0]).Layer(layers.LayerTypeARP).(*layers.ARP)
	if q.Operation != layers.ARPRequest || !net.IP(q.DstProtAddress).Equal(ipB) || !bytes.Equal(q.SourceHwAddress, macRouter1) {
		t.Errorf("eth1 frame 0 is not an ARP query for B: %+v", q)
	}
	p := decode(frames[1])
	ip := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	eth := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	if ip.TTL != 63 || ip.Id != 1 || !bytes.Equal(eth.DstMAC, macB) || !bytes.Equal(eth.SrcMAC, macRouter1) {
		t.Errorf("forwarded UDP: TTL %d id %d MACs %v -> %v", ip.TTL, ip.Id, eth.SrcMAC, eth.DstMAC)
	}
	if !ipChecksumOK(frames[1][14:34]) {
		t.Error("forwarded packet has a bad IP checksum")
	}
	var total int
	for i, f := range frames[2:] {
		fip := decode(f).Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		if fip.Id != 3 || len(f)-14 > 1000 || !ipChecksumOK(f[14:34]) {
			t.Errorf("fragment %d: id %d len %d", i, fip.Id, len(f)-14)
		}
		total += int(fip.Length) - 20
	}
	if total != 1408 { // 8-byte UDP header + 1400 payload bytes
		t.Errorf("fragments carry %d bytes, want 1408", total)
	}
}

func ipChecksumOK(h []byte) bool {
	var s uint32
	for i := 0; i+1 < len(h); i += 2 {
		s += uint32(h[i])<<8 | uint32(h[i+1])
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return s == 0xffff
}

// compareGolden checks the output capture's frames byte for byte against
// a committed golden capture (timestamps are not compared: generated
// packets carry the time they were made). -update rewrites the golden.
func compareGolden(t *testing.T, golden, got string) {
	t.Helper()
	path := filepath.Join("testdata", golden)
	if *update {
		data, err := os.ReadFile(got)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(path, data, 0o644)
		return
	}
	want, have := readPcap(t, path), readPcap(t, got)
	if len(want) != len(have) {
		t.Fatalf("%s: %d frames, golden has %d", golden, len(have), len(want))
	}
	for i := range want {
		if !bytes.Equal(want[i], have[i]) {
			t.Errorf("%s frame %d differs from golden:\n got %x\nwant %x", golden, i, have[i], want[i])
		}
	}
}
