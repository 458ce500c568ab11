package arp

import (
	"bytes"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket/layers"

	"flowbox/appliance/packet"
	"flowbox/elements/elemtest"
)

// ipPacket is a small IP packet with the destination annotation set.
func ipPacket(h *elemtest.Harness, nextHop string, tag byte) *packet.Packet {
	data := make([]byte, 28)
	data[0], data[27] = 0x45, tag
	p := h.Packet(data)
	copy(p.Anno.DstIP[:], net.ParseIP(nextHop).To4())
	p.SetNetworkAt(0)
	return p
}

func assertEncap(t *testing.T, p *packet.Packet, dst net.HardwareAddr, tag byte) {
	t.Helper()
	d := p.Data()
	if len(d) != 14+28 || !bytes.Equal(d[0:6], dst) || !bytes.Equal(d[6:12], ourMAC) || d[12] != 0x08 || d[13] != 0x00 || d[14+27] != tag {
		t.Fatalf("bad frame % x (want dst %v, tag %d)", d, dst, tag)
	}
	if p.MacHeader() == nil {
		t.Fatal("MAC annotation not set")
	}
}

func TestARPQuerierQueryReplyRelease(t *testing.T) {
	h := elemtest.New(t, "ARPQuerier", "10.0.0.1/24, 00:11:22:33:44:55", 2, 2)
	h.PushPackets(0, ipPacket(h, "10.0.0.7", 1), ipPacket(h, "10.0.0.7", 2))
	if h.Outs[0].Count != 0 || h.Outs[1].Count != 1 {
		t.Fatalf("outputs %d/%d: want packets held and one query", h.Outs[0].Count, h.Outs[1].Count)
	}
	eth, q := decodeARP(t, h.Outs[1].Pkts[0].Data())
	if q.Operation != layers.ARPRequest || !bytes.Equal(eth.DstMAC, layers.EthernetBroadcast) || !bytes.Equal(eth.SrcMAC, ourMAC) ||
		!bytes.Equal(q.SourceHwAddress, ourMAC) || net.IP(q.SourceProtAddress).String() != "10.0.0.1" ||
		net.IP(q.DstProtAddress).String() != "10.0.0.7" {
		t.Fatalf("bad query %+v", q)
	}
	if h.Read("length") != "2" || h.Read("queries") != "1" || !strings.Contains(h.Read("table"), "10.0.0.7 - queued=2") {
		t.Fatalf("length %s queries %s table %q", h.Read("length"), h.Read("queries"), h.Read("table"))
	}
	// A reply from someone else teaches that address but releases nothing.
	h.Push(1, arpFrame(t, layers.ARPReply, otherMAC, "10.0.0.9", ourMAC, "10.0.0.1", true))
	if h.Outs[0].Count != 0 {
		t.Fatal("released packets on an unrelated reply")
	}
	h.Push(1, arpFrame(t, layers.ARPReply, peerMAC, "10.0.0.7", ourMAC, "10.0.0.1", true))
	if h.Outs[0].Count != 2 {
		t.Fatalf("released %d packets, want 2", h.Outs[0].Count)
	}
	assertEncap(t, h.Outs[0].Pkts[0], peerMAC, 1)
	assertEncap(t, h.Outs[0].Pkts[1], peerMAC, 2)
	// Now known: sent straight away, no new query.
	h.PushPackets(0, ipPacket(h, "10.0.0.7", 3), ipPacket(h, "10.0.0.9", 4))
	assertEncap(t, h.Outs[0].Pkts[2], peerMAC, 3)
	assertEncap(t, h.Outs[0].Pkts[3], otherMAC, 4)
	if h.Outs[1].Count != 1 || h.Read("responses") != "2" || h.Read("length") != "0" || h.Read("count") != "2" {
		t.Fatalf("queries %d responses %s length %s count %s", h.Outs[1].Count, h.Read("responses"), h.Read("length"), h.Read("count"))
	}
}

func TestARPQuerierQueryOnOutput0WithoutOutput1(t *testing.T) {
	h := elemtest.New(t, "ARPQuerier", "10.0.0.1, 00:11:22:33:44:55", 2, 1)
	h.PushPackets(0, ipPacket(h, "10.0.0.7", 1))
	if h.Outs[0].Count != 1 {
		t.Fatal("no query on output 0")
	}
	if _, q := decodeARP(t, h.Outs[0].Pkts[0].Data()); q.Operation != layers.ARPRequest {
		t.Fatal("output 0 packet is not a query")
	}
}

func TestARPQuerierDirectMapping(t *testing.T) {
	cases := []struct {
		hop string
		mac net.HardwareAddr
	}{
		{"255.255.255.255", layers.EthernetBroadcast},
		{"10.0.0.255", layers.EthernetBroadcast}, // subnet broadcast from 10.0.0.1/24
		{"224.0.0.251", net.HardwareAddr{0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb}},
		{"239.129.2.3", net.HardwareAddr{0x01, 0x00, 0x5e, 0x01, 0x02, 0x03}}, // top bit of the 2nd byte dropped
	}
	for _, tc := range cases {
		h := elemtest.New(t, "ARPQuerier", "10.0.0.1/24, 00:11:22:33:44:55", 2, 2)
		h.PushPackets(0, ipPacket(h, tc.hop, 9))
		if h.Outs[0].Count != 1 || h.Outs[1].Count != 0 {
			t.Fatalf("%s: not sent directly", tc.hop)
		}
		assertEncap(t, h.Outs[0].Pkts[0], tc.mac, 9)
	}
	h := elemtest.New(t, "ARPQuerier", "10.0.0.1, 00:11:22:33:44:55, BROADCAST 10.255.255.255", 2, 2)
	h.PushPackets(0, ipPacket(h, "10.255.255.255", 1))
	assertEncap(t, h.Outs[0].Pkts[0], layers.EthernetBroadcast, 1)
}

func TestARPQuerierBounds(t *testing.T) {
	h := elemtest.New(t, "ARPQuerier", "10.0.0.1, 00:11:22:33:44:55, CAPACITY 3, ENTRY_CAPACITY 2", 2, 2)
	for i := byte(0); i < 5; i++ {
		h.PushPackets(0, ipPacket(h, "10.0.0.7", i))
	}
	if h.Read("length") != "3" || h.Read("drops") != "2" {
		t.Fatalf("length %s drops %s, want 3 and 2", h.Read("length"), h.Read("drops"))
	}
	if h.Outs[1].Count != 1 {
		t.Fatalf("%d queries for one hop within a second, want 1", h.Outs[1].Count)
	}
	h.PushPackets(0, ipPacket(h, "10.0.0.8", 0), ipPacket(h, "10.0.0.9", 0))
	if h.Read("count") != "2" || h.Read("drops") != "4" {
		t.Fatalf("count %s drops %s: table should hold 2 entries", h.Read("count"), h.Read("drops"))
	}
	// Malformed input: no annotation, bad ARP.
	noAnno := ipPacket(h, "0.0.0.0", 0)
	h.PushPackets(0, noAnno)
	h.Push(1, []byte{1, 2, 3}, arpFrame(t, layers.ARPRequest, peerMAC, "10.0.0.7", ourMAC, "10.0.0.1", false))
	if h.Read("drops") != "7" {
		t.Fatalf("drops %s, want 7", h.Read("drops"))
	}
}

func TestARPQuerierTimeouts(t *testing.T) {
	h := elemtest.New(t, "ARPQuerier", "10.0.0.1, 00:11:22:33:44:55, TIMEOUT 10s, POLL_TIMEOUT 5s", 2, 2)
	sec := int64(time.Second)
	h.Ctx.Now = 100 * sec
	h.PushPackets(0, ipPacket(h, "10.0.0.7", 1))
	h.Ctx.Now = 100*sec + sec/2
	h.PushPackets(0, ipPacket(h, "10.0.0.7", 2))
	h.Ctx.Now = 101*sec + sec/2
	h.PushPackets(0, ipPacket(h, "10.0.0.7", 3))
	if h.Outs[1].Count != 2 {
		t.Fatalf("%d queries, want 2 (rate limited to one per second)", h.Outs[1].Count)
	}
	// The hop never answers: the sweep drops its packets after 5 s.
	// Initialize armed the sweep on the wall clock; this test runs on a
	// simulated one.
	h.Elem.(*ARPQuerier).sweeper.ScheduleAt(106 * sec)
	h.FireTimers(106 * sec)
	if h.Read("length") != "0" || h.Read("count") != "0" || h.Read("drops") != "3" {
		t.Fatalf("after sweep: length %s count %s drops %s", h.Read("length"), h.Read("count"), h.Read("drops"))
	}
	// Learn, use (fresh), use after POLL_TIMEOUT (refresh query), expire.
	h.Ctx.Now = 200 * sec
	h.Push(1, arpFrame(t, layers.ARPReply, peerMAC, "10.0.0.7", ourMAC, "10.0.0.1", false))
	queries := h.Outs[1].Count
	h.Ctx.Now = 204 * sec
	h.PushPackets(0, ipPacket(h, "10.0.0.7", 4))
	h.Ctx.Now = 206 * sec
	h.PushPackets(0, ipPacket(h, "10.0.0.7", 5))
	if h.Outs[0].Count != 2 || h.Outs[1].Count != queries+1 {
		t.Fatalf("sent %d, queries +%d; want 2 and +1 (poll)", h.Outs[0].Count, h.Outs[1].Count-queries)
	}
	h.Ctx.Now = 211 * sec
	h.PushPackets(0, ipPacket(h, "10.0.0.7", 6))
	if h.Outs[0].Count != 2 || h.Read("length") != "1" {
		t.Fatal("expired entry still used")
	}
}

func TestARPQuerierHandlers(t *testing.T) {
	h := elemtest.New(t, "ARPQuerier", "10.0.0.1, 00:11:22:33:44:55", 2, 2)
	h.PushPackets(0, ipPacket(h, "10.0.0.7", 1))
	if err := h.Write("insert", "10.0.0.7 66:77:88:99:aa:bb"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(h.Read("table"), "10.0.0.7 66:77:88:99:aa:bb queued=1") {
		t.Fatalf("table %q", h.Read("table"))
	}
	h.PushPackets(0, ipPacket(h, "10.0.0.7", 2)) // the next batch releases the held packet first
	if h.Outs[0].Count != 2 {
		t.Fatalf("sent %d, want 2", h.Outs[0].Count)
	}
	assertEncap(t, h.Outs[0].Pkts[0], peerMAC, 1)
	h.PushPackets(0, ipPacket(h, "10.0.0.8", 3))
	if err := h.Write("delete", "10.0.0.8"); err != nil || h.Read("length") != "0" || h.Read("count") != "1" {
		t.Fatalf("delete: %v length %s count %s", err, h.Read("length"), h.Read("count"))
	}
	if h.Write("delete", "10.0.0.8") == nil || h.Write("insert", "10.0.0.9") == nil {
		t.Fatal("bad handler writes accepted")
	}
	h.PushPackets(0, ipPacket(h, "10.0.0.10", 4), ipPacket(h, "10.0.0.11", 5))
	if err := h.Write("clear", ""); err != nil || h.Read("count") != "0" || h.Read("length") != "0" {
		t.Fatal("clear left entries")
	}
	for _, cfg := range []string{"10.0.0.1", "x, 00:11:22:33:44:55", "10.0.0.1, 00:11:22:33:44:55, CAPACITY 0", "10.0.0.1/33, 00:11:22:33:44:55"} {
		if _, err := elemtest.Build(t, "ARPQuerier", cfg, elemtest.Options{Inputs: 2, Outputs: 2}); err == nil {
			t.Errorf("config %q accepted", cfg)
		}
	}
}

func TestARPQuerierAllocs(t *testing.T) {
	h := elemtest.New(t, "ARPQuerier", "10.0.0.1, 00:11:22:33:44:55", 2, 2)
	if err := h.Write("insert", "10.0.0.7 66:77:88:99:aa:bb"); err != nil {
		t.Fatal(err)
	}
	h.Outs[0].Discard = true
	var b packet.Batch
	run := func() {
		for i := 0; i < packet.MaxBatch; i++ {
			b.Append(ipPacket(h, "10.0.0.7", 0))
		}
		h.PushBatch(0, &b)
	}
	run()
	if a := testing.AllocsPerRun(50, run); a != 0 {
		t.Fatalf("%v allocations per batch", a)
	}
}

func BenchmarkARPQuerierKnownHop(b *testing.B) {
	h := elemtest.New(b, "ARPQuerier", "10.0.0.1, 00:11:22:33:44:55", 2, 1)
	_ = h.Write("insert", "10.0.0.7 66:77:88:99:aa:bb")
	q := h.Elem.(*ARPQuerier)
	h.Outs[0].Discard = true
	var batch packet.Batch
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += packet.MaxBatch {
		for j := 0; j < packet.MaxBatch; j++ {
			p := h.Ctx.Pool.New(28)
			p.Anno.DstIP = [4]byte{10, 0, 0, 7}
			batch.Append(p)
		}
		q.Push(h.Ctx, 0, &batch)
	}
}

// An entry inserted through the handler before any packet or sweep has
// run must live TIMEOUT from now, not from time zero.
func TestARPQuerierInsertBeforeTraffic(t *testing.T) {
	h := elemtest.New(t, "ARPQuerier", "10.0.0.1, 00:11:22:33:44:55", 2, 2)
	if err := h.Write("insert", "10.0.0.7 66:77:88:99:aa:bb"); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixNano() + int64(2*time.Second)
	h.Elem.(*ARPQuerier).sweeper.ScheduleAt(now)
	h.FireTimers(now)
	if !strings.Contains(h.Read("table"), "10.0.0.7 66:77:88:99:aa:bb") {
		t.Fatalf("inserted entry swept at once: table %q", h.Read("table"))
	}
	h.Ctx.Now = now
	h.PushPackets(0, ipPacket(h, "10.0.0.7", 1))
	if h.Outs[0].Count != 1 || h.Outs[1].Count != 0 {
		t.Fatalf("sent %d, queries %d; want the packet sent without a query", h.Outs[0].Count, h.Outs[1].Count)
	}
	assertEncap(t, h.Outs[0].Pkts[0], peerMAC, 1)
}
