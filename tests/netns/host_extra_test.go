package netns_test

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"flowbox/appliance/packet"
	"flowbox/tests/netns/nsenv"
)

// pingN sends n ICMP echo requests from conn to dst (one at a time,
// waiting up to wait for each reply) and returns how many were answered.
func pingN(t *testing.T, conn net.PacketConn, dst string, id uint16, n int, wait time.Duration) int {
	t.Helper()
	buf := make([]byte, 1500)
	ok := 0
	for seq := 1; seq <= n; seq++ {
		req := []byte{8, 0, 0, 0, byte(id >> 8), byte(id), 0, byte(seq), 'f', 'b', 'x', 'r'}
		cs := icmpChecksum(req)
		req[2], req[3] = byte(cs>>8), byte(cs)
		if _, err := conn.WriteTo(req, &net.IPAddr{IP: net.ParseIP(dst)}); err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(wait))
		for {
			m, from, err := conn.ReadFrom(buf)
			if err != nil {
				break
			}
			if m >= 8 && buf[0] == 0 && buf[4] == byte(id>>8) && buf[5] == byte(id) && buf[7] == byte(seq) && from.String() == dst {
				ok++
				break
			}
		}
	}
	return ok
}

// TestHostTAP puts a kernel stack behind flowbox: FromDevice(d0) ->
// ToHost(tap) hands the frames gen sends to the dut namespace's kernel,
// which answers through the tap, and FromHost(tap) -> ToDevice(d0) sends
// the answers back. ARP, ICMP echo and UDP (sent with the checksum left
// to offload, the veth default) must all work both ways.
func TestHostTAP(t *testing.T) {
	e := newEnv(t)
	nss := mustNS(t, e, "gen", "dut")
	gen, dut := nss[0], nss[1]
	must(t, e.Veth(gen, "g0", dut, "d0"))
	must(t, nsenv.IP("-n", gen, "addr", "add", "10.254.10.2/24", "dev", "g0"))

	// A UDP echo server in the dut namespace, on any address: its
	// 10.254.10.1 comes with the tap flowbox creates.
	var srv *net.UDPConn
	must(t, nsenv.Run(dut, func() (err error) {
		srv, err = net.ListenUDP("udp4", &net.UDPAddr{Port: 7000})
		return
	}))
	defer srv.Close()
	var served atomic.Int64
	go udpEcho(srv, &served)

	const tapArgs = "fbxrtap0, DST 10.254.10.1/24, ETHER 02:fb:00:00:0a:01"
	cfg := fmt.Sprintf(`
FromDevice(d0, METHOD PACKET, SNIFFER false) -> th :: ToHost(%s);
fh :: FromHost(%s) -> ToDevice(d0, METHOD PACKET);
`, tapArgs, tapArgs)
	p := startFlowbox(t, dut, "", "-e", cfg, "-h", "th.count", "-h", "fh.count", "-h", "th.tx_drops")

	var cli *net.UDPConn
	must(t, nsenv.Run(gen, func() (err error) {
		cli, err = net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(10, 254, 10, 1), Port: 7000})
		return
	}))
	defer cli.Close()
	buf := make([]byte, 2048)
	for i := 0; ; i++ { // flowbox up, ARP resolved both ways
		cli.Write([]byte("warm-up"))
		cli.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if n, err := cli.Read(buf); err == nil && string(buf[:n]) == "warm-up" {
			break
		}
		if i == 25 {
			l, _ := nsenv.NS(dut, "nstat", "-az", "UdpInDatagrams", "UdpInCsumErrors", "IpInReceives")
			t.Fatalf("no UDP echo through the tap within 5s\n%s\nflowbox:\n%s", l, p.stop())
		}
	}
	rx0 := tapRX(t, dut)
	const n = 50
	for i := 0; i < n; i++ {
		msg := fmt.Sprintf("tap %d %s", i, strings.Repeat("y", i*25))
		cli.Write([]byte(msg))
		cli.SetReadDeadline(time.Now().Add(time.Second))
		m, err := cli.Read(buf)
		for err == nil && string(buf[:m]) == "warm-up" {
			m, err = cli.Read(buf)
		}
		if err != nil || string(buf[:m]) != msg {
			l, _ := nsenv.NS(dut, "nstat", "-az", "UdpInDatagrams", "UdpInCsumErrors", "IpInReceives")
			t.Fatalf("datagram %d: no or wrong echo (%v)\n%s\nflowbox:\n%s", i, err, l, p.stop())
		}
	}
	// The kernel's tap counts what ToHost wrote as received.
	if d := tapRX(t, dut) - rx0; d < n {
		t.Errorf("tap rx_packets moved by %d for %d datagrams", d, n)
	}
	var ic net.PacketConn
	must(t, nsenv.Run(gen, func() (err error) {
		ic, err = net.ListenPacket("ip4:icmp", "10.254.10.2")
		return
	}))
	defer ic.Close()
	if got := pingN(t, ic, "10.254.10.1", 0x5151, 5, time.Second); got != 5 {
		t.Errorf("%d of 5 pings to the tap's address answered", got)
	}
	out := p.stop()
	if served.Load() < n {
		t.Errorf("server saw %d datagrams", served.Load())
	}
	th, fh := handlerValue(t, out, "th.count"), handlerValue(t, out, "fh.count")
	if th < n+5 || fh < n+5 {
		t.Errorf("ToHost wrote %d, FromHost read %d frames; want >= %d each", th, fh, n+5)
	}
	if handlerValue(t, out, "th.tx_drops") != 0 {
		t.Errorf("ToHost dropped frames:\n%s", out)
	}
	if _, err := nsenv.NS(dut, "ip", "link", "show", "fbxrtap0"); err == nil {
		t.Errorf("the tap flowbox created outlived it")
	}
}

func tapRX(t *testing.T, ns string) uint64 {
	t.Helper()
	out, err := nsenv.NS(ns, "cat", "/sys/class/net/fbxrtap0/statistics/rx_packets")
	must(t, err)
	var v uint64
	fmt.Sscan(out, &v)
	return v
}

// TestSnifferFalse: with SNIFFER false the kernel stack of the dut stops
// seeing d0's frames (pings to d0's address go unanswered) while flowbox
// still receives them; with SNIFFER true, and after flowbox exits, the
// kernel answers again.
func TestSnifferFalse(t *testing.T) {
	e := newEnv(t)
	nss := mustNS(t, e, "gen", "dut")
	gen, dut := nss[0], nss[1]
	must(t, e.Veth(gen, "g0", dut, "d0"))
	must(t, nsenv.IP("-n", gen, "addr", "add", "10.254.20.2/24", "dev", "g0"))
	must(t, nsenv.IP("-n", dut, "addr", "add", "10.254.20.1/24", "dev", "d0"))
	d0, err := nsenv.MAC(dut, "d0")
	must(t, err)
	g0, _ := nsenv.MAC(gen, "g0")
	must(t, nsenv.IP("-n", gen, "neigh", "replace", "10.254.20.1", "lladdr", d0.String(), "dev", "g0", "nud", "permanent"))
	must(t, nsenv.IP("-n", dut, "neigh", "replace", "10.254.20.2", "lladdr", g0.String(), "dev", "d0", "nud", "permanent"))
	var ic net.PacketConn
	must(t, nsenv.Run(gen, func() (err error) {
		ic, err = net.ListenPacket("ip4:icmp", "10.254.20.2")
		return
	}))
	defer ic.Close()
	if got := pingN(t, ic, "10.254.20.1", 1, 3, time.Second); got != 3 {
		t.Fatalf("without flowbox only %d of 3 pings answered", got)
	}
	dir := t.TempDir()
	for i, sniffer := range []bool{false, true} {
		p := startFlowbox(t, dut, fmt.Sprintf("%s/s%d.sock", dir, i),
			"-e", fmt.Sprintf("src :: FromDevice(d0, METHOD PACKET, SNIFFER %v) -> c :: Classifier(12/0800 23/01, -); c[0] -> icmp :: Counter -> Discard; c[1] -> Discard", sniffer))
		const n = 5
		wait := time.Second
		if !sniffer {
			wait = 200 * time.Millisecond // expecting no reply
		}
		answered := pingN(t, ic, "10.254.20.1", uint16(10+i), n, wait)
		seen := p.readUint("icmp.count")
		tables, _ := nsenv.NS(dut, "nft", "list", "tables")
		p.stop()
		if seen < n {
			t.Errorf("SNIFFER %v: flowbox saw %d of %d echo requests", sniffer, seen, n)
		}
		if want := map[bool]int{false: 0, true: n}[sniffer]; answered != want {
			t.Errorf("SNIFFER %v: kernel answered %d of %d pings, want %d (nft tables: %q)", sniffer, answered, n, want, tables)
		}
		if got := pingN(t, ic, "10.254.20.1", uint16(20+i), 2, time.Second); got != 2 {
			tables, _ := nsenv.NS(dut, "nft", "list", "tables")
			t.Errorf("after flowbox (SNIFFER %v) exited, %d of 2 pings answered: drop chain left behind? %q", sniffer, got, tables)
		}
	}
}

// TestPromisc receives on a bridge, which (like a NIC's MAC filter) only
// passes a frame for another MAC up to its own device when promiscuous:
// frames to a foreign MAC reach FromDevice(br0) only with PROMISC true.
// (A veth hands every frame to packet sockets whatever its MAC, so it
// cannot show the difference.)
func TestPromisc(t *testing.T) {
	e := newEnv(t)
	nss := mustNS(t, e, "gen", "dut")
	gen, dut := nss[0], nss[1]
	must(t, e.Veth(gen, "g0", dut, "d0"))
	must(t, nsenv.IP("-n", dut, "link", "add", "br0", "address", "02:fb:00:00:14:01", "type", "bridge"))
	must(t, nsenv.IP("-n", dut, "link", "set", "d0", "master", "br0"))
	must(t, nsenv.IP("-n", dut, "link", "set", "br0", "up"))
	g := packetPort(t, gen, "g0")
	mine := net.HardwareAddr{0x02, 0xfb, 0, 0, 0x14, 0x01}
	other := net.HardwareAddr{0x02, 0xfb, 0, 0, 0x14, 0xee}
	dir := t.TempDir()
	for i, promisc := range []bool{false, true} {
		p := startFlowbox(t, dut, fmt.Sprintf("%s/p%d.sock", dir, i), "-e", fmt.Sprintf(`
FromDevice(br0, METHOD PACKET, PROMISC %v) -> cl :: Classifier(0/02fb000014ee, 0/02fb00001401, -);
cl[0] -> other :: Counter -> Discard; cl[1] -> mine :: Counter -> Discard; cl[2] -> Discard;`, promisc))
		// A packet socket's promiscuous membership shows as the device's
		// promiscuity count, not as the PROMISC flag.
		if got := promiscuity(t, dut, "br0"); got != map[bool]int{false: 0, true: 1}[promisc] {
			t.Errorf("PROMISC %v: br0 promiscuity %d", promisc, got)
		}
		pool := packet.NewPool(nil)
		var b packet.Batch
		const n = 20
		for seq := uint32(0); seq < n; seq++ {
			b.Append(udpFrame(pool, mine, macSrc, 1, seq, 20))
			b.Append(udpFrame(pool, other, macSrc, 1, seq, 20))
		}
		g.SendBatch(pool, &b)
		var m, o uint64
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			m, o = p.readUint("mine.count"), p.readUint("other.count")
			if m >= n && (!promisc || o >= n) {
				break
			}
		}
		if !promisc {
			time.Sleep(100 * time.Millisecond) // give stray foreign frames time to show up
			o = p.readUint("other.count")
		}
		p.stop()
		if m != n {
			t.Errorf("PROMISC %v: %d of %d frames to br0's own MAC received", promisc, m, n)
		}
		if want := map[bool]uint64{false: 0, true: n}[promisc]; o != want {
			t.Errorf("PROMISC %v: %d frames to a foreign MAC received, want %d", promisc, o, want)
		}
		if got := promiscuity(t, dut, "br0"); got != 0 {
			t.Errorf("br0 still promiscuous (%d) after flowbox exited", got)
		}
	}
}

func promiscuity(t *testing.T, ns, ifname string) int {
	t.Helper()
	out, err := nsenv.NS(ns, "ip", "-d", "link", "show", ifname)
	must(t, err)
	m := regexp.MustCompile(`promiscuity (\d+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no promiscuity in %s", out)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}
