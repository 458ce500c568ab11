package netns_test

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"flowbox/appliance/rings"
	"flowbox/tests/netns/nsenv"
)

// TestRouterChecksumOffload is TestIPRouter without its workaround: the
// hosts keep veth's TX checksum offload on (the default), so their UDP
// and TCP frames reach flowbox with the checksum unfinished
// (CHECKSUM_PARTIAL). METHOD PACKET learns that from PACKET_VNET_HDR and
// completes the checksum, so the far host accepts the frames.
//
// METHOD XDP (AF_XDP copy mode) gets no checksum state from the kernel:
// the XDP subtest documents that such frames arrive with a bad checksum
// and are dropped by the receiving host (it fails loudly the day that
// changes, so the note can go).
func TestRouterChecksumOffload(t *testing.T) {
	for _, method := range []string{"PACKET", "XDP"} {
		t.Run(method, func(t *testing.T) {
			if method == "XDP" && !rings.Registered(rings.MethodXDP) {
				t.Skip("no XDP opener in this build")
			}
			routerOffload(t, method)
		})
	}
}

func routerOffload(t *testing.T, method string) {
	e := newEnv(t)
	nss := mustNS(t, e, "h1", "dut", "h2")
	h1, dut, h2 := nss[0], nss[1], nss[2]
	must(t, e.Veth(h1, "e0", dut, "da"))
	must(t, e.Veth(dut, "db", h2, "e0"))
	macA, err := nsenv.MAC(dut, "da")
	must(t, err)
	macB, _ := nsenv.MAC(dut, "db")
	mac1, _ := nsenv.MAC(h1, "e0")
	mac2, _ := nsenv.MAC(h2, "e0")
	for _, h := range []struct {
		ns, addr, gw string
		gwmac        net.HardwareAddr
	}{{h1, "10.254.31.2/24", "10.254.31.1", macA}, {h2, "10.254.32.2/24", "10.254.32.1", macB}} {
		out, err := nsenv.NS(h.ns, "ethtool", "-k", "e0")
		must(t, err)
		if !strings.Contains(out, "tx-checksumming: on") {
			t.Fatalf("%s: veth TX checksum offload is not on, the test would prove nothing:\n%s", h.ns, out)
		}
		must(t, nsenv.IP("-n", h.ns, "addr", "add", h.addr, "dev", "e0"))
		must(t, nsenv.IP("-n", h.ns, "route", "add", "default", "via", h.gw))
		must(t, nsenv.IP("-n", h.ns, "neigh", "replace", h.gw, "lladdr", h.gwmac.String(), "dev", "e0", "nud", "permanent"))
	}
	cfg := fmt.Sprintf(`
rt :: StaticIPLookup(10.254.31.0/24 0, 10.254.32.0/24 1);
FromDevice(da, METHOD %[5]s) -> ca :: Classifier(12/0800, -) -> Strip(14) -> CheckIPHeader -> rt;
FromDevice(db, METHOD %[5]s) -> cb :: Classifier(12/0800, -) -> Strip(14) -> CheckIPHeader -> rt;
ca[1] -> Discard; cb[1] -> Discard;
rt[0] -> DecIPTTL -> Unstrip(14) -> EtherRewrite(%[1]s, %[2]s) -> ToDevice(da, METHOD %[5]s);
rt[1] -> DecIPTTL -> Unstrip(14) -> EtherRewrite(%[3]s, %[4]s) -> ToDevice(db, METHOD %[5]s);
`, macA, mac1, macB, mac2, method)
	p := startFlowbox(t, dut, "", "-e", cfg, "-h", "*.rx", "-h", "*.tx", "-h", "*.drop_reasons")

	// UDP echo h1 -> h2 -> h1.
	var srv, cli *net.UDPConn
	must(t, nsenv.Run(h2, func() (err error) {
		srv, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(10, 254, 32, 2), Port: 7000})
		return
	}))
	defer srv.Close()
	must(t, nsenv.Run(h1, func() (err error) {
		cli, err = net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(10, 254, 32, 2), Port: 7000})
		return
	}))
	defer cli.Close()
	go udpEcho(srv, nil)
	csumErrs := func() string {
		s, _ := nsenv.NS(h2, "nstat", "-az", "UdpInDatagrams", "UdpInCsumErrors", "TcpInCsumErrors", "IpInReceives")
		return s
	}
	// Flowbox is up when a frame crosses it: ICMP (checksummed in
	// software by the host, so unaffected by offload).
	var ic net.PacketConn
	must(t, nsenv.Run(h1, func() (err error) {
		ic, err = net.ListenPacket("ip4:icmp", "10.254.31.2")
		return
	}))
	defer ic.Close()
	up := false
	for i := 0; i < 25 && !up; i++ {
		up = pingN(t, ic, "10.254.32.2", 0x3131, 1, 200*time.Millisecond) == 1
	}
	if !up {
		t.Fatalf("no ping through flowbox within 5s\nflowbox:\n%s", p.stop())
	}

	buf := make([]byte, 2048)
	udpOK := 0
	for i := 0; i < 50; i++ {
		msg := fmt.Sprintf("offload %d %s", i, strings.Repeat("z", i*27))
		cli.Write([]byte(msg))
		cli.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if n, err := cli.Read(buf); err == nil && string(buf[:n]) == msg {
			udpOK++
		}
		if method == "XDP" && i == 4 && udpOK == 0 {
			break // documented below; don't spend 50 timeouts on it
		}
	}
	if method == "XDP" {
		out := p.stop()
		if udpOK != 0 {
			t.Fatalf("METHOD XDP now forwards CHECKSUM_PARTIAL UDP correctly (%d echoes): update this test and the FromDevice docs", udpOK)
		}
		s := csumErrs()
		t.Logf("METHOD XDP (AF_XDP copy mode) forwards locally generated UDP with the checksum unfinished; the receiver drops it:\n%s\nflowbox:\n%s", s, out)
		return
	}
	if udpOK != 50 {
		t.Fatalf("%d of 50 UDP echoes with checksum offload on\n%s\nflowbox:\n%s", udpOK, csumErrs(), p.stop())
	}

	// TCP: a connection h1 -> h2 exchanging small messages (each below
	// the MSS: bigger writes become GSO super-frames, see the report).
	var ln net.Listener
	must(t, nsenv.Run(h2, func() (err error) {
		ln, err = net.Listen("tcp4", "10.254.32.2:7001")
		return
	}))
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c)
	}()
	var tc net.Conn
	must(t, nsenv.Run(h1, func() (err error) {
		tc, err = net.DialTimeout("tcp4", "10.254.32.2:7001", 3*time.Second)
		return
	}))
	defer tc.Close()
	for i := 0; i < 20; i++ {
		msg := fmt.Sprintf("tcp %d %s\n", i, strings.Repeat("t", i*40))
		tc.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := tc.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(tc, buf[:len(msg)]); err != nil || string(buf[:len(msg)]) != msg {
			t.Fatalf("TCP message %d: %v\n%s\nflowbox:\n%s", i, err, csumErrs(), p.stop())
		}
	}
	t.Logf("h2 counters:\n%s\nflowbox:\n%s", csumErrs(), p.stop())
}
