// Package firmware_test boots flowbox the way a box does: the profiles in
// firmware/profiles in network namespaces (`flowbox boot -c
// firmware/profiles/X/boot.toml`, eth0/eth1 being veths inside the box's
// namespace), the last-known-good fallback, and the firmware image under
// qemu (qemu_test.go).
package firmware_test

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"

	"flowbox/tests/netns/nsenv"
	"flowbox/tests/testbin"
)

var (
	root       string
	flowboxBin string
)

func TestMain(m *testing.M) {
	root, _ = filepath.Abs("../..")
	testbin.Main(m, testbin.Flowbox, &flowboxBin)
}

// box is a namespace "r" with eth0 <-> h0 (10.0.1.2/24, gw 10.0.1.1) and
// eth1 <-> h1 (10.0.2.2/24, gw 10.0.2.1): the addresses of the profiles.
type box struct {
	env        *nsenv.Env
	r, h0, h1  string
	dir        string // scratch: control socket, LKG store, log
	socket     string
	lkg, logf  string
	mu         sync.Mutex
	out        strings.Builder
	cmd        *exec.Cmd
	done       chan struct{}
	readyLines chan string
}

func newBox(t *testing.T) *box { return newBoxNS(t, "") }

// newBoxNS is newBox with prefix added to the namespace names (after
// nsenv's "fbx"): "n" gives fbxnr..., fbxnh0..., fbxnh1....
func newBoxNS(t *testing.T, prefix string) *box {
	t.Helper()
	if why := nsenv.Available(); why != "" {
		t.Skip(why)
	}
	b := &box{env: nsenv.New(), dir: t.TempDir()}
	t.Cleanup(b.env.Close)
	var err error
	for _, p := range []struct {
		ns    *string
		short string
	}{{&b.r, "r"}, {&b.h0, "h0"}, {&b.h1, "h1"}} {
		if *p.ns, err = b.env.AddNS(prefix + p.short); err != nil {
			t.Fatal(err)
		}
	}
	for i, h := range []string{b.h0, b.h1} {
		if err := b.env.Veth(b.r, fmt.Sprintf("eth%d", i), h, "veth0"); err != nil {
			t.Fatal(err)
		}
		if err := nsenv.IP("-n", h, "addr", "add", fmt.Sprintf("10.0.%d.2/24", i+1), "dev", "veth0"); err != nil {
			t.Fatal(err)
		}
		if err := nsenv.IP("-n", h, "route", "add", "default", "via", fmt.Sprintf("10.0.%d.1", i+1)); err != nil {
			t.Fatal(err)
		}
		// veth hands frames over with the TCP/UDP checksum not filled in
		// (offload); a real NIC computes it. The hosts compute it
		// themselves so the frames flowbox forwards are complete.
		if out, err := nsenv.NS(h, "ethtool", "-K", "veth0", "tx", "off"); err != nil {
			t.Fatalf("ethtool: %v %s", err, out)
		}
	}
	b.socket = filepath.Join(b.dir, "control.sock")
	b.lkg = filepath.Join(b.dir, "lkg")
	b.logf = filepath.Join(b.dir, "flowbox.log")
	return b
}

var readyRe = regexp.MustCompile(`flowbox: ready: .*`)

// boot starts `flowbox boot -c file` in the box namespace and waits for
// its ready line, which it returns.
func (b *box) boot(t *testing.T, file string, extra ...string) string {
	t.Helper()
	args := append([]string{"netns", "exec", b.r, flowboxBin, "boot", "-c", file,
		"-p", b.socket, "--lkg-dir", b.lkg, "--log-file", b.logf}, extra...)
	b.cmd = exec.Command("ip", args...)
	b.cmd.Dir = root
	pr, pw, _ := os.Pipe()
	b.cmd.Stdout, b.cmd.Stderr = pw, pw
	b.out.Reset()
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	b.done = make(chan struct{})
	b.readyLines = make(chan string, 8)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			b.mu.Lock()
			b.out.WriteString(sc.Text() + "\n")
			b.mu.Unlock()
			if m := readyRe.FindString(sc.Text()); m != "" {
				select {
				case b.readyLines <- m:
				default:
				}
			}
		}
		b.cmd.Wait()
		close(b.done)
	}()
	t.Cleanup(func() { b.stop() })
	select {
	case l := <-b.readyLines:
		return l
	case <-b.done:
		t.Fatalf("flowbox boot exited before ready:\n%s", b.output())
	case <-time.After(20 * time.Second):
		t.Fatalf("flowbox boot: no ready line in 20s:\n%s", b.output())
	}
	return ""
}

func (b *box) output() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.out.String()
}

// waitFor waits until the output contains s.
func (b *box) waitFor(t *testing.T, s string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if strings.Contains(b.output(), s) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no %q in the output after %v:\n%s", s, d, b.output())
}

// stop sends SIGTERM and waits; it returns the whole output.
func (b *box) stop() string {
	if b.cmd == nil || b.cmd.Process == nil {
		return b.output()
	}
	select {
	case <-b.done:
		return b.output()
	default:
	}
	b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(10 * time.Second):
		b.cmd.Process.Kill()
		<-b.done
	}
	return b.output()
}

func (b *box) signal(s os.Signal) { b.cmd.Process.Signal(s) }

// shell runs `flowbox shell -s SOCKET -c cmd` and returns its output.
func (b *box) shell(t *testing.T, cmd string) string {
	t.Helper()
	out, err := exec.Command(flowboxBin, "shell", "-s", b.socket, "-c", cmd).CombinedOutput()
	if err != nil {
		t.Fatalf("flowbox shell -c %q: %v\n%s", cmd, err, out)
	}
	return string(out)
}

// ping sends one ICMP echo from ns to dst with the given TTL and returns
// the ICMP type of the answer and who sent it ("" on timeout).
func ping(t *testing.T, ns, dst string, ttl int) (icmp.Type, string) {
	t.Helper()
	var c *icmp.PacketConn
	if err := nsenv.Run(ns, func() (err error) {
		c, err = icmp.ListenPacket("ip4:icmp", "0.0.0.0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.IPv4PacketConn().SetTTL(ttl)
	id := os.Getpid() & 0xffff
	for try := 0; try < 3; try++ {
		msg := icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: id, Seq: try, Data: []byte("flowbox-boot-test")}}
		wb, _ := msg.Marshal(nil)
		if _, err := c.WriteTo(wb, &net.IPAddr{IP: net.ParseIP(dst)}); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(time.Second)
		buf := make([]byte, 1500)
		for {
			c.SetReadDeadline(deadline)
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				break
			}
			m, err := icmp.ParseMessage(1, buf[:n])
			if err != nil || m.Type == ipv4.ICMPTypeEcho {
				continue
			}
			if e, ok := m.Body.(*icmp.Echo); ok && e.ID != id {
				continue
			}
			return m.Type, from.(*net.IPAddr).IP.String()
		}
	}
	return nil, ""
}

func wantPing(t *testing.T, ns, dst string, ttl int, typ icmp.Type, from string) {
	t.Helper()
	got, src := ping(t, ns, dst, ttl)
	if got != typ || src != from {
		t.Errorf("ping %s (ttl %d) from %s: got %v from %q, want %v from %s", dst, ttl, ns, got, src, typ, from)
	}
}

// udpEcho serves UDP on addr in ns: it answers "SRC-IP:SRC-PORT" (what it
// saw) to every datagram.
func udpEcho(t *testing.T, ns, addr string) {
	t.Helper()
	var pc net.PacketConn
	if err := nsenv.Run(ns, func() (err error) { pc, err = net.ListenPacket("udp4", addr); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			_, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo([]byte(from.String()), from)
		}
	}()
}

// udpAsk sends a datagram from ns to addr and returns the answer ("" if none).
func udpAsk(t *testing.T, ns, addr string) string {
	t.Helper()
	var c net.Conn
	if err := nsenv.Run(ns, func() (err error) { c, err = net.Dial("udp4", addr); return err }); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 256)
	for try := 0; try < 3; try++ {
		c.Write([]byte("hello"))
		c.SetReadDeadline(time.Now().Add(time.Second))
		if n, err := c.Read(buf); err == nil {
			return string(buf[:n])
		}
	}
	return ""
}

// tcpEcho serves TCP on addr in ns, answering the peer address it saw.
func tcpEcho(t *testing.T, ns, addr string) {
	t.Helper()
	var l net.Listener
	if err := nsenv.Run(ns, func() (err error) { l, err = net.Listen("tcp4", addr); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte(c.RemoteAddr().String()))
			c.Close()
		}
	}()
}

// tcpAsk connects from ns to addr and returns what the server said, or
// "" if the connection failed within 2s.
func tcpAsk(t *testing.T, ns, addr string) string {
	t.Helper()
	var out string
	nsenv.Run(ns, func() error {
		c, err := net.DialTimeout("tcp4", addr, 2*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		b := make([]byte, 256)
		n, _ := c.Read(b)
		out = string(b[:n])
		return nil
	})
	return out
}

func profile(name string) string { return filepath.Join("firmware", "profiles", name, "boot.toml") }

func linkState(t *testing.T, ns, dev string) string {
	t.Helper()
	out, err := nsenv.NS(ns, "ip", "-o", "link", "show", dev)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRouterProfile(t *testing.T) {
	b := newBox(t)
	// eth0 starts down with MTU 1400: boot brings it up with the profile's
	// MTU 1500, SIGTERM puts it back.
	nsenv.IP("-n", b.r, "link", "set", "eth0", "down")
	nsenv.IP("-n", b.r, "link", "set", "eth0", "mtu", "1400")
	ready := b.boot(t, profile("router"), "--promote-after", "1s")
	if !strings.Contains(ready, "profile=router") || !strings.Contains(ready, "interfaces=eth0,eth1") || strings.Contains(ready, "degraded") {
		t.Fatalf("ready line: %s", ready)
	}
	if s := linkState(t, b.r, "eth0"); !strings.Contains(s, "mtu 1500") || !strings.Contains(s, ",UP") {
		t.Errorf("eth0 not set up by boot: %s", s)
	}
	wantPing(t, b.h0, "10.0.1.1", 64, ipv4.ICMPTypeEchoReply, "10.0.1.1")
	wantPing(t, b.h0, "10.0.2.1", 64, ipv4.ICMPTypeEchoReply, "10.0.2.1")
	wantPing(t, b.h0, "10.0.2.2", 64, ipv4.ICMPTypeEchoReply, "10.0.2.2")
	wantPing(t, b.h1, "10.0.1.2", 64, ipv4.ICMPTypeEchoReply, "10.0.1.2")
	wantPing(t, b.h0, "10.0.2.2", 1, ipv4.ICMPTypeTimeExceeded, "10.0.1.1")
	wantPing(t, b.h0, "192.0.2.9", 64, ipv4.ICMPTypeDestinationUnreachable, "10.0.1.1")
	udpEcho(t, b.h1, "10.0.2.2:5000")
	if got := udpAsk(t, b.h0, "10.0.2.2:5000"); !strings.HasPrefix(got, "10.0.1.2:") {
		t.Errorf("UDP through the router: server saw %q, want 10.0.1.2:PORT (no NAT)", got)
	}
	if st := b.shell(t, "show boot"); !strings.Contains(st, "state:       ok") || !strings.Contains(st, "profile:     router") {
		t.Errorf("show boot:\n%s", st)
	}
	b.waitFor(t, "last-known-good: saved profile router", 5*time.Second)
	if _, err := os.Stat(filepath.Join(b.lkg, "current", "manifest.json")); err != nil {
		t.Error(err)
	}
	out := b.stop()
	if !strings.Contains(out, "flowbox: stopped") {
		t.Errorf("no clean stop:\n%s", out)
	}
	if s := linkState(t, b.r, "eth0"); !strings.Contains(s, "mtu 1400") || strings.Contains(s, ",UP") {
		t.Errorf("eth0 not restored (want down, mtu 1400): %s", s)
	}
	if log, _ := os.ReadFile(b.logf); !strings.Contains(string(log), "flowbox: ready: profile=router") {
		t.Errorf("log file lacks the ready line:\n%s", log)
	}
}

func TestNATProfile(t *testing.T) {
	b := newBoxNS(t, "n")
	ready := b.boot(t, profile("nat"))
	if !strings.Contains(ready, "profile=nat") {
		t.Fatalf("ready line: %s", ready)
	}
	udpEcho(t, b.h1, "10.0.2.2:5000")
	tcpEcho(t, b.h1, "10.0.2.2:8080")
	got := udpAsk(t, b.h0, "10.0.2.2:5000")
	if !strings.HasPrefix(got, "10.0.2.1:") {
		t.Errorf("UDP LAN->WAN: server saw %q, want the NAT address 10.0.2.1:PORT", got)
	}
	if got := tcpAsk(t, b.h0, "10.0.2.2:8080"); !strings.HasPrefix(got, "10.0.2.1:") {
		t.Errorf("TCP LAN->WAN: server saw %q, want 10.0.2.1:PORT", got)
	}
	// The WAN cannot open connections into the LAN.
	tcpEcho(t, b.h0, "10.0.1.2:8081")
	if got := tcpAsk(t, b.h1, "10.0.1.2:8081"); got != "" {
		t.Errorf("TCP WAN->LAN got through the NAT: %q", got)
	}
	wantPing(t, b.h1, "10.0.2.1", 64, ipv4.ICMPTypeEchoReply, "10.0.2.1")
	wantPing(t, b.h0, "10.0.1.1", 64, ipv4.ICMPTypeEchoReply, "10.0.1.1")
	// Pings from the LAN are translated (ICMPPingRewriter) and answered.
	wantPing(t, b.h0, "10.0.2.2", 64, ipv4.ICMPTypeEchoReply, "10.0.2.2")
	if tab := b.shell(t, "read ping.icmp_table"); !strings.Contains(tab, "(10.0.1.2, ") || !strings.Contains(tab, "=> (10.0.2.1, ") {
		t.Errorf("ping.icmp_table has no LAN->WAN mapping:\n%s", tab)
	}
	// The WAN cannot ping into the LAN (no mapping for its requests).
	if typ, from := ping(t, b.h1, "10.0.1.2", 64); typ != nil {
		t.Errorf("WAN->LAN ping answered: %v from %s", typ, from)
	}
	// Time exceeded for a translated ping (the box's own error, quoting the
	// translated packet, addressed to 10.0.2.1) reaches the LAN host.
	wantPing(t, b.h0, "10.0.2.2", 1, ipv4.ICMPTypeTimeExceeded, "10.0.1.1")
	// A UDP datagram to a closed WAN port: h1's port unreachable, addressed
	// to 10.0.2.1, is mapped back to the LAN socket (ECONNREFUSED).
	if err := udpRefused(t, b.h0, "10.0.2.2:5999"); err != nil {
		t.Errorf("UDP to a closed WAN port: %v", err)
	}
	if n := b.shell(t, "read icmpin.rewritten"); strings.TrimSpace(n) == "0" {
		t.Errorf("icmpin.rewritten = %s after two ICMP errors", n)
	}
	if n := b.shell(t, "read nat.table_size"); strings.TrimSpace(n) == "0" {
		t.Errorf("nat.table_size = %s after two flows", n)
	}
}

// udpRefused sends datagrams from ns to addr (a closed port) until the
// connected socket reports ECONNREFUSED, the sign the ICMP port
// unreachable arrived and matched the socket's own 5-tuple.
func udpRefused(t *testing.T, ns, addr string) error {
	t.Helper()
	var c net.Conn
	if err := nsenv.Run(ns, func() (err error) { c, err = net.Dial("udp4", addr); return err }); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 256)
	var last error
	for try := 0; try < 4; try++ {
		if _, err := c.Write([]byte("anyone?")); errors.Is(err, syscall.ECONNREFUSED) {
			return nil
		}
		c.SetReadDeadline(time.Now().Add(time.Second))
		_, err := c.Read(buf)
		if errors.Is(err, syscall.ECONNREFUSED) {
			return nil
		}
		last = err
	}
	return fmt.Errorf("no ECONNREFUSED (last read: %v)", last)
}

// TestIDSProfile boots the inline IDS between h0 (10.0.1.2) and h1
// (readdressed 10.0.1.3, same subnet: the box is a bump in the wire).
func TestIDSProfile(t *testing.T) {
	b := newBoxNS(t, "n")
	if err := nsenv.IP("-n", b.h1, "addr", "flush", "dev", "veth0"); err != nil {
		t.Fatal(err)
	}
	if err := nsenv.IP("-n", b.h1, "addr", "add", "10.0.1.3/24", "dev", "veth0"); err != nil {
		t.Fatal(err)
	}
	ready := b.boot(t, profile("ids"))
	if !strings.Contains(ready, "profile=ids") || strings.Contains(ready, "degraded") {
		t.Fatalf("ready line: %s", ready)
	}
	// Clean traffic passes both ways (ARP bridged, IP forwarded unchanged).
	wantPing(t, b.h0, "10.0.1.3", 64, ipv4.ICMPTypeEchoReply, "10.0.1.3")
	udpEcho(t, b.h1, "10.0.1.3:5000")
	if got := udpSay(t, b.h0, "10.0.1.3:5000", "GET /index.html"); !strings.HasPrefix(got, "10.0.1.2:") {
		t.Errorf("clean UDP: server answered %q, want 10.0.1.2:PORT", got)
	}
	tcpEcho(t, b.h1, "10.0.1.3:8080")
	if got := tcpAsk(t, b.h0, "10.0.1.3:8080"); !strings.HasPrefix(got, "10.0.1.2:") {
		t.Errorf("clean TCP: server saw %q", got)
	}
	if n := b.shell(t, "read ids.count"); strings.TrimSpace(n) != "0" {
		t.Errorf("alerts on clean traffic: ids.count = %s", n)
	}
	// A datagram carrying a signature is an alert and is dropped.
	if got := udpSay(t, b.h0, "10.0.1.3:5000", "xx FLOWBOX-IDS-TEST-SIGNATURE xx"); got != "" {
		t.Errorf("packet with a signature got through: server answered %q", got)
	}
	if n := strings.TrimSpace(b.shell(t, "read ids.pattern_count flowbox_test")); n == "0" || n == "" {
		t.Errorf("ids.pattern_count flowbox_test = %q", n)
	}
	if n := strings.TrimSpace(b.shell(t, "read alerts.count")); n == "0" {
		t.Errorf("alerts.count = %s (dropped alerts not counted)", n)
	}
	if al := b.shell(t, "read ids.alerts"); !strings.Contains(al, "alert flowbox_test udp 10.0.1.2:") {
		t.Errorf("ids.alerts:\n%s", al)
	}
	b.waitFor(t, "alert flowbox_test udp 10.0.1.2:", 5*time.Second) // logged
	// Clean traffic still passes after the alert.
	if got := udpSay(t, b.h0, "10.0.1.3:5000", "still fine"); !strings.HasPrefix(got, "10.0.1.2:") {
		t.Errorf("clean UDP after an alert: %q", got)
	}
	if top := b.shell(t, "read flows.top 20"); !strings.Contains(top, "udp 10.0.1.2:") || !strings.Contains(top, "tcp 10.0.1.2:") {
		t.Errorf("flows.top:\n%s", top)
	}
}

// udpSay sends msg from ns to addr (up to 3 tries) and returns the
// answer ("" if none).
func udpSay(t *testing.T, ns, addr, msg string) string {
	t.Helper()
	var c net.Conn
	if err := nsenv.Run(ns, func() (err error) { c, err = net.Dial("udp4", addr); return err }); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 256)
	for try := 0; try < 3; try++ {
		c.Write([]byte(msg))
		c.SetReadDeadline(time.Now().Add(time.Second))
		if n, err := c.Read(buf); err == nil {
			return string(buf[:n])
		}
	}
	return ""
}

func TestFirewallProfile(t *testing.T) {
	b := newBox(t)
	ready := b.boot(t, profile("firewall"))
	if !strings.Contains(ready, "profile=firewall") {
		t.Fatalf("ready line: %s", ready)
	}
	tcpEcho(t, b.h1, "10.0.2.2:80")
	tcpEcho(t, b.h1, "10.0.2.2:23")
	tcpEcho(t, b.h0, "10.0.1.2:80")
	if got := tcpAsk(t, b.h0, "10.0.2.2:80"); !strings.HasPrefix(got, "10.0.1.2:") {
		t.Errorf("allowed LAN->WAN tcp/80: got %q", got)
	}
	if got := tcpAsk(t, b.h0, "10.0.2.2:23"); got != "" {
		t.Errorf("denied LAN->WAN tcp/23 got through: %q", got)
	}
	if got := tcpAsk(t, b.h1, "10.0.1.2:80"); got != "" {
		t.Errorf("new WAN->LAN connection got through: %q", got)
	}
	wantPing(t, b.h0, "10.0.2.2", 64, ipv4.ICMPTypeEchoReply, "10.0.2.2")
}

// writeProfile copies the router profile into dir and returns its boot file.
func writeProfile(t *testing.T, dir string) string {
	t.Helper()
	for _, f := range []string{"boot.toml", "router.click"} {
		b, err := os.ReadFile(filepath.Join(root, "firmware/profiles/router", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "boot.toml")
}

// A broken boot file costs a log line, not the box: the last-known-good
// set runs (degraded), and with none the control socket still comes up;
// fixing the file and sending SIGHUP brings the box back.
func TestLastKnownGood(t *testing.T) {
	b := newBox(t)
	cfgDir := t.TempDir()
	bootFile := writeProfile(t, cfgDir)
	good, _ := os.ReadFile(bootFile)

	// 1. No LKG yet and a typo: rescue mode, control socket only.
	bad := strings.Replace(string(good), "threads = 1", "treads = 1", 1)
	os.WriteFile(bootFile, []byte(bad), 0o644)
	ready := b.boot(t, bootFile, "--promote-after", "1s")
	if !strings.Contains(ready, "profile=none elements=0") || !strings.Contains(ready, "degraded=true source=rescue") {
		t.Fatalf("rescue ready line: %s\n%s", ready, b.output())
	}
	out := b.output()
	if !strings.Contains(out, bootFile+":8: graph.treads: unknown key (did you mean \"threads\"?)") {
		t.Errorf("the error does not name file:line and key:\n%s", out)
	}
	if st := b.shell(t, "show boot"); !strings.Contains(st, "DEGRADED") || !strings.Contains(st, "rescue") {
		t.Errorf("show boot in rescue:\n%s", st)
	}
	// 2. Repair and SIGHUP: the box comes up and, after 1s, saves LKG.
	os.WriteFile(bootFile, good, 0o644)
	b.signal(syscall.SIGHUP)
	b.waitFor(t, "reloaded in", 10*time.Second)
	wantPing(t, b.h0, "10.0.2.2", 64, ipv4.ICMPTypeEchoReply, "10.0.2.2")
	if st := b.shell(t, "show boot"); !strings.Contains(st, "state:       ok") {
		t.Errorf("show boot after repair:\n%s", st)
	}
	b.waitFor(t, "last-known-good: saved profile router", 5*time.Second)
	b.stop()

	// 3. Broken Click file at boot: the LKG set runs, degraded.
	os.WriteFile(filepath.Join(cfgDir, "router.click"), []byte("FromDevice($LAN) -> Nonsense -> Discard;\n"), 0o644)
	ready = b.boot(t, bootFile)
	if !strings.Contains(ready, "profile=router") || !strings.Contains(ready, "degraded=true source=last-known-good") {
		t.Fatalf("LKG ready line: %s\n%s", ready, b.output())
	}
	if !strings.Contains(b.output(), "running the last-known-good configuration") || !strings.Contains(b.output(), "router.click:1:") {
		t.Errorf("no reason on the console:\n%s", b.output())
	}
	wantPing(t, b.h0, "10.0.2.2", 64, ipv4.ICMPTypeEchoReply, "10.0.2.2")
	if st := b.shell(t, "show boot"); !strings.Contains(st, "DEGRADED") || !strings.Contains(st, "last-known-good") {
		t.Errorf("show boot on LKG:\n%s", st)
	}
	// 4. A bad reload keeps the running graph.
	b.signal(syscall.SIGHUP)
	b.waitFor(t, "reload failed, running configuration unchanged", 10*time.Second)
	wantPing(t, b.h0, "10.0.1.1", 64, ipv4.ICMPTypeEchoReply, "10.0.1.1")
	b.stop()
}

func TestTraceboxStationProfile(t *testing.T) {
	b := newBox(t)
	// The station's uplink is eth0 (10.0.1.1/24 on the kernel); h0 is the
	// probe target. Probe results go to the output dir named in the file,
	// so run a copy with output redirected to the scratch dir.
	dir := t.TempDir()
	src := filepath.Join(root, "firmware/profiles/tracebox-station")
	for _, f := range []string{"boot.toml", "station.click", "probes/detect_window.lua", "probes/lib.lua"} {
		data, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "boot.toml" {
			data = []byte(strings.ReplaceAll(string(data), `output = "/var/lib/flowbox/probes"`, fmt.Sprintf("output = %q", filepath.Join(b.dir, "probes"))))
		}
		os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755)
		os.WriteFile(filepath.Join(dir, f), data, 0o644)
	}
	ready := b.boot(t, filepath.Join(dir, "boot.toml"))
	if !strings.Contains(ready, "profile=tracebox-station") {
		t.Fatalf("ready line: %s", ready)
	}
	if a, _ := nsenv.NS(b.r, "ip", "-o", "addr", "show", "eth0"); !strings.Contains(a, "10.0.1.1/24") {
		t.Errorf("kernel address not set: %s", a)
	}
	b.waitFor(t, "probe path: exit", 30*time.Second)
	data, err := os.ReadFile(filepath.Join(b.dir, "probes", "path.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"probe":"path"`) || !strings.Contains(string(data), `"result":{`) {
		t.Errorf("path.jsonl:\n%s", data)
	}
	b.stop()
	if a, _ := nsenv.NS(b.r, "ip", "-o", "addr", "show", "eth0"); strings.Contains(a, "10.0.1.1/24") {
		t.Errorf("kernel address not removed on stop: %s", a)
	}
}

// `config load` in the shell does what SIGHUP does (README, Boot and
// firmware): reloading the repaired boot file makes it the running set,
// so the box is no longer degraded and 'show boot' says so. 'show boot'
// gives the reason of a failed boot, not just "has errors".
func TestShellConfigLoadCommitsBootFile(t *testing.T) {
	b := newBoxNS(t, "c")
	cfgDir := t.TempDir()
	bootFile := writeProfile(t, cfgDir)
	click := filepath.Join(cfgDir, "router.click")
	good, _ := os.ReadFile(click)
	os.WriteFile(click, []byte("FromDevice($LAN) -> Nonsense -> Discard;\n"), 0o644)
	ready := b.boot(t, bootFile, "--promote-after", "1s")
	if !strings.Contains(ready, "degraded=true source=rescue") {
		t.Fatalf("ready line: %s\n%s", ready, b.output())
	}
	if st := b.shell(t, "show boot"); !strings.Contains(st, "router.click has errors: ") || !strings.Contains(st, "router.click:1:") {
		t.Errorf("show boot does not say why:\n%s", st)
	}
	// Still broken: one readable error line (no source lines or carets).
	out, err := exec.Command(flowboxBin, "shell", "-s", b.socket, "-c", "config load").CombinedOutput()
	if err == nil || strings.Count(string(out), "\n") != 1 || strings.Contains(string(out), "^") ||
		!strings.Contains(string(out), "router.click has errors: "+click+":1:") {
		t.Errorf("config load of the broken boot file: %v %q", err, out)
	}
	os.WriteFile(click, good, 0o644)
	if out := b.shell(t, "config load"); !strings.Contains(out, "38 added") {
		t.Errorf("config load: %s", out)
	}
	st := b.shell(t, "show boot")
	if !strings.Contains(st, "state:       ok") || !strings.Contains(st, "profile:     router") || !strings.Contains(st, "running:     boot-file") {
		t.Errorf("show boot after config load of the repaired boot file:\n%s", st)
	}
	b.waitFor(t, "flowbox: ready: profile=router elements=38 interfaces=eth0,eth1", 5*time.Second)
	// The reloaded set is promoted to last-known-good as after SIGHUP.
	b.waitFor(t, "last-known-good: saved profile router", 5*time.Second)
	wantPing(t, b.h0, "10.0.2.2", 64, ipv4.ICMPTypeEchoReply, "10.0.2.2")
}
