package netns_test

import (
	"encoding/binary"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"flowbox/appliance/packet"
	"flowbox/appliance/rings"
	"flowbox/tests/netns/nsenv"
	"flowbox/tests/testbin"
)

var flowboxBin string

func TestMain(m *testing.M) { testbin.Main(m, testbin.Flowbox, &flowboxBin) }

// flowbox runs the binary with config inside ns until stop is called; stop
// returns its combined output.
func flowbox(t *testing.T, ns, config string, handlers ...string) (stop func() string) {
	t.Helper()
	args := []string{"netns", "exec", ns, flowboxBin, "run", "-e", config}
	for _, h := range handlers {
		args = append(args, "-h", h)
	}
	cmd := exec.Command("ip", args...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	stopped := false
	stop = func() string {
		if !stopped {
			stopped = true
			cmd.Process.Signal(syscall.SIGINT)
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				cmd.Process.Kill()
				<-done
			}
		}
		return out.String()
	}
	t.Cleanup(func() { stop() })
	return stop
}

const etherType = 0x88b5 // IEEE local experimental

func testFrame(pool *packet.Pool, seq uint32, size int) *packet.Packet {
	p := pool.New(size)
	d := p.Data()
	copy(d, []byte{0x02, 0xfb, 0, 0, 0, 2, 0x02, 0xfb, 0, 0, 0, 1, etherType >> 8, etherType & 0xff})
	binary.BigEndian.PutUint32(d[14:], seq)
	for i := 18; i < size; i++ {
		d[i] = byte(seq) ^ byte(i)
	}
	return p
}

func openIn(t *testing.T, ns, ifname string) rings.Port {
	t.Helper()
	var p rings.Port
	err := nsenv.Run(ns, func() error {
		var err error
		p, err = rings.Open(ifname, rings.MethodPacket, rings.Options{})
		if err == nil {
			err = p.(rings.RXStarter).StartRX(rings.Options{Sniffer: true})
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// TestForward runs FromDevice(d0) -> ToDevice(d1) in the dut namespace
// with each method and checks that a bounded stream of distinct frames
// reaches the sink unchanged and in order.
func TestForward(t *testing.T) {
	if why := nsenv.Available(); why != "" {
		t.Skip(why)
	}
	for _, c := range []struct{ name, method, extra string }{
		{"PACKET", "PACKET", ""},
		{"PACKET+SHED", "PACKET", ", SHED true"}, // XDP load shedding sheds nothing at a moderate rate
		{"XDP", "XDP", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.method == "XDP" && !rings.Registered(rings.MethodXDP) {
				t.Skip("no XDP opener in this build")
			}
			forward(t, c.method, c.extra)
		})
	}
}

func forward(t *testing.T, method, extra string) {
	e := nsenv.New()
	t.Cleanup(e.Close)
	gen, err := e.AddNS("gen")
	if err != nil {
		t.Fatal(err)
	}
	dut, _ := e.AddNS("dut")
	sink, _ := e.AddNS("snk")
	if err := e.Veth(gen, "g0", dut, "d0"); err != nil {
		t.Fatal(err)
	}
	if err := e.Veth(dut, "d1", sink, "s0"); err != nil {
		t.Fatal(err)
	}
	g := openIn(t, gen, "g0")
	s := openIn(t, sink, "s0")
	stop := flowbox(t, dut, fmt.Sprintf("FromDevice(d0, METHOD %s%s) -> ToDevice(d1, METHOD %s)", method, extra, method),
		"FromDevice@1.method", "FromDevice@1.mode", "FromDevice@1.rx", "FromDevice@1.kernel_drops", "FromDevice@1.shed_drops", "ToDevice@2.tx", "ToDevice@2.drop_reasons")
	pool := packet.NewPool(nil)
	var b packet.Batch

	// Wait until frames flow (flowbox is up).
	const probe = 0xffffffff
	up := false
	for i := 0; i < 100 && !up; i++ {
		b.Append(testFrame(pool, probe, 64))
		g.SendBatch(pool, &b)
		time.Sleep(50 * time.Millisecond)
		for {
			n, _ := s.RecvBatch(pool, &b, packet.MaxBatch)
			if n == 0 {
				break
			}
			up = true
			pool.FreeBatch(&b)
		}
	}
	if !up {
		t.Fatalf("no frame crossed flowbox within 5s:\n%s", stop())
	}

	const total = 20000
	next := uint32(0)
	bad := 0
	check := func(p *packet.Packet) {
		d := p.Data()
		if len(d) < 18 || binary.BigEndian.Uint16(d[12:]) != etherType {
			return
		}
		seq := binary.BigEndian.Uint32(d[14:])
		if seq == probe {
			return
		}
		size := 64 + int(seq%1400)
		ok := seq == next && len(d) == size
		for i := 18; ok && i < size; i++ {
			ok = d[i] == byte(seq)^byte(i)
		}
		if !ok && bad < 5 {
			t.Errorf("frame %d (len %d) at position %d: wrong or out of order", seq, len(d), next)
		}
		if !ok {
			bad++
		}
		next = seq + 1
	}
	drain := func() int {
		got := 0
		for {
			n, _ := s.RecvBatch(pool, &b, packet.MaxBatch)
			if n == 0 {
				return got
			}
			for i := 0; i < b.N; i++ {
				check(b.P[i])
			}
			pool.FreeBatch(&b)
			got += n
		}
	}
	// A moderate ~40k frames/s (32 frames every 0.8 ms).
	for seq := uint32(0); seq < total; {
		for b.N < 32 && seq < total {
			b.Append(testFrame(pool, seq, 64+int(seq%1400)))
			seq++
		}
		if n, err := g.SendBatch(pool, &b); n == 0 && err != nil {
			t.Fatal(err)
		}
		drain()
		time.Sleep(800 * time.Microsecond)
		// Flow control: never more than 192 frames in flight, so a dut
		// starved of CPU by other CI jobs overflows no ring (native XDP
		// on veth queues at most 256 frames in the veth ptr_ring).
		for stall := time.Now(); seq-next > 192 && time.Since(stall) < 3*time.Second; {
			if drain() == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	}
	deadline := time.Now().Add(3 * time.Second)
	for next < total && time.Now().Before(deadline) {
		if drain() == 0 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	out := stop()
	if next != total || bad != 0 {
		t.Fatalf("sink got up to frame %d of %d, %d wrong; gen %+v sink %+v\nflowbox:\n%s", next, total, bad, g.Stats(), s.Stats(), out)
	}
	if !strings.Contains(out, method) {
		t.Errorf("method handler does not say %s:\n%s", method, out)
	}
	if extra != "" && !strings.Contains(out, "tpacket_v2+shed-xdp-") {
		t.Errorf("mode handler does not report XDP load shedding:\n%s", out)
	}
	t.Logf("flowbox handlers:\n%s", out)
}

// TestIPRouter routes between two namespaces with real Linux hosts:
// UDP datagrams and ICMP echo go through CheckIPHeader -> lookup ->
// DecIPTTL -> EtherRewrite in flowbox and come back.
func TestIPRouter(t *testing.T) {
	if why := nsenv.Available(); why != "" {
		t.Skip(why)
	}
	e := nsenv.New()
	t.Cleanup(e.Close)
	h1, err := e.AddNS("h1")
	if err != nil {
		t.Fatal(err)
	}
	dut, _ := e.AddNS("dut")
	h2, _ := e.AddNS("h2")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(e.Veth(h1, "e0", dut, "da"))
	must(e.Veth(dut, "db", h2, "e0"))
	macA, err := nsenv.MAC(dut, "da")
	must(err)
	macB, _ := nsenv.MAC(dut, "db")
	mac1, _ := nsenv.MAC(h1, "e0")
	mac2, _ := nsenv.MAC(h2, "e0")
	for _, h := range []struct {
		ns, addr, gw string
		gwmac        net.HardwareAddr
	}{{h1, "10.251.1.2/24", "10.251.1.1", macA}, {h2, "10.251.2.2/24", "10.251.2.1", macB}} {
		// veth hands locally generated frames over with the UDP/TCP
		// checksum left to "offload" (CHECKSUM_PARTIAL); a forwarder in
		// user space sees the unfinished checksum. Real NICs finish it
		// in hardware: make the hosts compute it in software.
		if _, err := nsenv.NS(h.ns, "ethtool", "-K", "e0", "tx", "off"); err != nil {
			t.Fatal(err)
		}
		must(nsenv.IP("-n", h.ns, "addr", "add", h.addr, "dev", "e0"))
		must(nsenv.IP("-n", h.ns, "route", "add", "default", "via", h.gw))
		must(nsenv.IP("-n", h.ns, "neigh", "replace", h.gw, "lladdr", h.gwmac.String(), "dev", "e0", "nud", "permanent"))
	}
	cfg := fmt.Sprintf(`
rt :: StaticIPLookup(10.251.1.0/24 0, 10.251.2.0/24 1);
FromDevice(da, METHOD PACKET) -> ca :: Classifier(12/0800, -) -> Strip(14) -> CheckIPHeader -> rt;
FromDevice(db, METHOD PACKET) -> cb :: Classifier(12/0800, -) -> Strip(14) -> CheckIPHeader -> rt;
ca[1] -> Discard; cb[1] -> Discard;
rt[0] -> DecIPTTL -> Unstrip(14) -> EtherRewrite(%s, %s) -> ToDevice(da, METHOD PACKET);
rt[1] -> DecIPTTL -> Unstrip(14) -> EtherRewrite(%s, %s) -> ToDevice(db, METHOD PACKET);
`, macA, mac1, macB, mac2)
	stop := flowbox(t, dut, cfg, "*.rx", "*.tx", "*.count", "*.drops")

	// UDP h1 -> h2, with replies h2 -> h1.
	var srv, cli *net.UDPConn
	must(nsenv.Run(h2, func() (err error) {
		srv, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(10, 251, 2, 2), Port: 7000})
		return
	}))
	defer srv.Close()
	must(nsenv.Run(h1, func() (err error) {
		cli, err = net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(10, 251, 2, 2), Port: 7000})
		return
	}))
	defer cli.Close()
	go udpEcho(srv, nil)
	buf := make([]byte, 2048)
	// Wait for flowbox to come up: retry a warm-up datagram for 5s.
	for i := 0; ; i++ {
		cli.Write([]byte("warm-up"))
		cli.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if n, err := cli.Read(buf); err == nil && string(buf[:n]) == "warm-up" {
			break
		}
		if i == 25 {
			t.Fatalf("no UDP echo through flowbox within 5s\nflowbox:\n%s", stop())
		}
	}
	ok := 0
	for i := 0; i < 200; i++ {
		msg := fmt.Sprintf("datagram %d %s", i, strings.Repeat("x", i*5))
		cli.Write([]byte(msg))
		cli.SetReadDeadline(time.Now().Add(time.Second))
		n, err := cli.Read(buf)
		for err == nil && string(buf[:n]) == "warm-up" {
			n, err = cli.Read(buf) // a late echo of a warm-up datagram
		}
		if err != nil {
			l1, _ := nsenv.NS(h2, "ip", "-s", "link", "show", "e0")
			l2, _ := nsenv.NS(h2, "nstat", "-az", "IpInHdrErrors", "IpInAddrErrors", "UdpInDatagrams", "UdpNoPorts", "IpInReceives", "UdpInCsumErrors", "IpOutRequests")
			t.Fatalf("datagram %d: no echo: %v\n%s\n%s\nflowbox:\n%s", i, err, l1, l2, stop())
		}
		if string(buf[:n]) != msg {
			t.Fatalf("datagram %d came back changed", i)
		}
		ok++
	}
	if ok != 200 {
		t.Fatalf("only %d of 200 UDP round trips", ok)
	}

	// ICMP echo from h1 to h2's kernel; check the reply's TTL went down
	// by one hop.
	var ic net.PacketConn
	must(nsenv.Run(h1, func() (err error) {
		ic, err = net.ListenPacket("ip4:icmp", "10.251.1.2")
		return
	}))
	defer ic.Close()
	for seq := 1; seq <= 5; seq++ {
		req := []byte{8, 0, 0, 0, 0x12, 0x34, 0, byte(seq), 'f', 'b', 'x', '!'}
		cs := icmpChecksum(req)
		req[2], req[3] = byte(cs>>8), byte(cs)
		if _, err := ic.WriteTo(req, &net.IPAddr{IP: net.IPv4(10, 251, 2, 2)}); err != nil {
			t.Fatal(err)
		}
		ic.SetReadDeadline(time.Now().Add(2 * time.Second))
		for {
			n, from, err := ic.ReadFrom(buf)
			if err != nil {
				t.Fatalf("ping %d: no reply: %v", seq, err)
			}
			if n >= 8 && buf[0] == 0 && buf[7] == byte(seq) && from.String() == "10.251.2.2" {
				break
			}
		}
	}
}

func icmpChecksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}
