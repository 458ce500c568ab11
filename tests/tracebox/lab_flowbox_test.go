package tracebox_test

// Lab test with the real flowbox binary live at a hop: in the lab chain
// src -> r1 -> r2 -> r3 -> dst, r2's kernel stops forwarding (no addresses,
// ip_forward=0) and flowbox runs in r2's namespace on its two veths
// (FromDevice/ToDevice, METHOD PACKET, then METHOD XDP), answering ARP
// (ARPResponder), rewriting what middleboxes rewrite, and answering TTL
// expiry with ICMPError (timeexceeded, quoting the whole packet).

import (
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"flowbox/appliance/rings"
	"flowbox/tests/netns/nsenv"
	"flowbox/tests/testbin"
)

var (
	flowboxOnce sync.Once
	flowboxBin  string
	flowboxErr  error
)

// buildFlowbox builds the flowbox binary next to bin/tracebox (once).
func buildFlowbox(t *testing.T) string {
	t.Helper()
	flowboxOnce.Do(func() {
		flowboxBin, flowboxErr = testbin.Build(filepath.Dir(tbxBin), "flowbox", testbin.Flowbox)
	})
	if flowboxErr != nil {
		t.Fatal(flowboxErr)
	}
	return flowboxBin
}

// flowboxR2 hands r2 over to flowbox: it removes r2's addresses, stops its
// kernel forwarding and runs flowbox with a router config whose left
// ingress path is pre -> DecIPTTL -> post (expired probes go to ICMPError
// from 10.201.2.2). It waits until r1 can ping r3 through flowbox and
// returns a function stopping flowbox and returning its output.
func (l *lab) flowboxR2(method, pre, post string) (stop func() string) {
	t := l.t
	t.Helper()
	bin := buildFlowbox(t)
	left, right := fmt.Sprintf("tbx%s2b", l.id), fmt.Sprintf("tbx%s3a", l.id)
	r1If, r3If := fmt.Sprintf("tbx%s2a", l.id), fmt.Sprintf("tbx%s3b", l.id)
	for _, dev := range []string{left, right} {
		l.in("r2", "ip", "addr", "flush", "dev", dev)
		l.in("r2", "sysctl", "-qw", "net.ipv6.conf."+dev+".disable_ipv6=1")
	}
	l.in("r2", "sysctl", "-qw", "net.ipv4.ip_forward=0", "net.ipv6.conf.all.forwarding=0")
	// The destination's kernel answers (RST) with the TCP checksum left
	// to veth "offload"; a user-space forwarder would pass it on
	// unfinished (see tests/netns). Make the hosts compute it.
	for _, x := range [][2]string{{"d", fmt.Sprintf("tbx%s4b", l.id)}, {"s", fmt.Sprintf("tbx%s1a", l.id)}} {
		l.in(x[0], "ethtool", "-K", x[1], "tx", "off")
	}
	mac := func(role, dev string) string {
		hw, err := nsenv.MAC(l.ns[role], dev)
		if err != nil {
			t.Fatal(err)
		}
		return hw.String()
	}
	macL, macR := mac("r2", left), mac("r2", right)
	macR1, macR3 := mac("r1", r1If), mac("r3", r3If)
	if pre != "" {
		pre += " -> "
	}
	if post != "" {
		post += " -> "
	}
	cfg := fmt.Sprintf(`
tl :: ToDevice(%[1]s, METHOD %[3]s);
tr :: ToDevice(%[2]s, METHOD %[3]s);
fl :: FromDevice(%[1]s, METHOD %[3]s) -> cl :: Classifier(12/0806 20/0001, 12/0800, -);
fr :: FromDevice(%[2]s, METHOD %[3]s) -> cr :: Classifier(12/0806 20/0001, 12/0800, -);
cl[0] -> ARPResponder(10.201.2.2 %[4]s) -> tl;
cr[0] -> ARPResponder(10.201.3.1 %[5]s) -> tr;
cl[2] -> Discard; cr[2] -> Discard;
cl[1] -> Strip(14) -> CheckIPHeader -> %[8]sdl :: DecIPTTL -> %[9]sUnstrip(14) -> EtherRewrite(%[5]s, %[7]s) -> tr;
dl[1] -> te :: ICMPError(10.201.2.2, timeexceeded) -> EtherEncap(0x0800, %[4]s, %[6]s) -> tl;
cr[1] -> Strip(14) -> CheckIPHeader -> dr :: DecIPTTL -> Unstrip(14) -> EtherRewrite(%[4]s, %[6]s) -> tl;
dr[1] -> Discard;
`, left, right, method, macL, macR, macR1, macR3, pre, post)
	cmd := exec.Command("ip", "netns", "exec", l.ns["r2"], bin, "run", "-e", cfg, "-h", "fl.method", "-h", "fl.mode", "-h", "te.count")
	var out strings.Builder
	var mu sync.Mutex
	w := writerFunc(func(b []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return out.Write(b) })
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	stopped := false
	output := func() string { mu.Lock(); defer mu.Unlock(); return out.String() }
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
		return output()
	}
	t.Cleanup(func() { stop() })
	// Wait (at most ~8 s) until an ICMP echo crosses flowbox both ways.
	for i := 0; ; i++ {
		select {
		case <-done:
			t.Fatalf("flowbox exited:\n%s", stop())
		default:
		}
		if l.ping("r1", "10.201.2.1", "10.201.3.2", uint16(i)) {
			break
		}
		if i == 40 {
			t.Fatalf("no ping through flowbox at r2 within 8s\nflowbox:\n%s", stop())
		}
	}
	return stop
}

// ping sends one ICMP echo from role's src to dst and waits 200 ms for the
// reply (no ping binary needed).
func (l *lab) ping(role, src, dst string, seq uint16) bool {
	var c net.PacketConn
	if err := nsenv.Run(l.ns[role], func() (err error) {
		c, err = net.ListenPacket("ip4:icmp", src)
		return
	}); err != nil {
		l.t.Fatal(err)
	}
	defer c.Close()
	req := []byte{8, 0, 0, 0, 0x7b, 0x78, byte(seq >> 8), byte(seq), 't', 'b', 'x'}
	var s uint32
	for i := 0; i < len(req); i += 2 {
		v := uint32(req[i]) << 8
		if i+1 < len(req) {
			v |= uint32(req[i+1])
		}
		s += v
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	req[2], req[3] = byte(^s>>8), byte(^s)
	if _, err := c.WriteTo(req, &net.IPAddr{IP: net.ParseIP(dst)}); err != nil {
		return false
	}
	buf := make([]byte, 1500)
	c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	for {
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			return false
		}
		if n >= 8 && buf[0] == 0 && buf[4] == 0x7b && buf[6] == byte(seq>>8) && buf[7] == byte(seq) && from.String() == dst {
			return true
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// TestLabFlowboxAtR2 runs bin/tracebox through a flowbox hop. DSCP
// remarking happens on ingress (before the TTL check), so the time
// exceeded of hop 2 itself already quotes it; the MSS clamp and the
// sequence shift happen after it, so hop 3 (and every later quote) shows
// them. RemoveTCPOpt is checked in a second configuration, also with
// detect_tcp_opts.lua.
func TestLabFlowboxAtR2(t *testing.T) {
	needRoot(t)
	if _, err := exec.LookPath("ethtool"); err != nil {
		t.Skip("needs ethtool")
	}
	for _, method := range []string{"PACKET", "XDP"} {
		t.Run(method, func(t *testing.T) {
			if method == "XDP" && !rings.Registered(rings.MethodXDP) {
				t.Skip("no XDP opener in this build")
			}
			start := time.Now()
			l := newLab(t)
			stop := l.flowboxR2(method, "ChangeDSCP(0)", "ChangeMSS(500) -> ChangeSeq(1000)")
			const probe = "ip{dscp=10} / tcp{dst=80, seq=1000} / mss(9000)"
			got, _ := l.tracebox("-n", "-m", "8", "-p", probe, "10.201.4.2")
			const later = "TCP::SeqNumber TCP::CheckSum IP::DiffServicesCP IP::TTL IP::CheckSum TCPOptionMaxSegSize::MaxSegSize"
			if mask(got) != `tracebox to 10.201.4.2 (10.201.4.2): 8 hops max
1: 10.201.1.1 Xms 
2: 10.201.2.2 Xms IP::DiffServicesCP IP::TTL IP::CheckSum 
3: 10.201.3.2 Xms `+later+` 
4: 10.201.4.2 Xms [Reply: TCP ( RST ACK )] 
` {
				t.Fatalf("got:\n%s\nflowbox:\n%s", mask(got), stop())
			}
			// flowbox's quotes are whole packets: no partial marker anywhere
			if strings.Contains(got, "PARTIAL") {
				t.Fatalf("partial quote:\n%s", got)
			}
			got, _ = l.tracebox("-n", "-v", "-m", "8", "-p", probe, "10.201.4.2")
			for _, want := range []string{"2: 10.201.2.2 ", "IP::DiffServicesCP (10 -> 0)", "IP::TTL (2 -> 1)",
				"TCPOptionMaxSegSize::MaxSegSize (9000 -> 500)", "TCP::SeqNumber (1000 -> 2000)"} {
				if !strings.Contains(got, want) {
					t.Fatalf("verbose output lacks %q:\n%s", want, got)
				}
			}
			if v := strings.Split(got, "\n"); len(v) < 4 || strings.Contains(v[2], "MaxSegSize") || !strings.Contains(v[3], "MaxSegSize") {
				t.Fatalf("MSS change not first seen at hop 3:\n%s", got)
			}
			// JSON: hop 2 is not partial, hop 3 lists the rewrites.
			js, _ := l.tracebox("-n", "-j", "-m", "8", "-p", probe, "10.201.4.2")
			if !strings.Contains(js, `{ "hop": 2, "from": "10.201.2.2"`) || strings.Contains(js, `"partial"`) ||
				!strings.Contains(js, `"TCPOptionMaxSegSize::MaxSegSize" ]`) {
				t.Fatalf("json:\n%s", js)
			}
			out := stop()
			// flowbox really ran with that method, and its ICMPError
			// answered hop 2 of each of the three traces.
			if !strings.Contains(out, "fl.method:\n"+method) {
				t.Fatalf("flowbox did not use %s:\n%s", method, out)
			}
			if m := regexp.MustCompile(`te\.count:\n(\d+)`).FindStringSubmatch(out); m == nil || atoi(m[1]) < 3 {
				t.Fatalf("ICMPError count:\n%s", out)
			}
			t.Logf("flowbox handlers:\n%s", out)

			// Second configuration: an option-stripping box.
			l2 := newLab(t)
			stop = l2.flowboxR2(method, "", "RemoveTCPOpt(mss)")
			got, _ = l2.tracebox("-n", "-m", "8", "-p", "IP / TCP / mss(9000)", "10.201.4.2")
			if mask(got) != `tracebox to 10.201.4.2 (10.201.4.2): 8 hops max
1: 10.201.1.1 Xms 
2: 10.201.2.2 Xms IP::TTL IP::CheckSum 
3: 10.201.3.2 Xms TCP::CheckSum IP::TTL IP::CheckSum +TCPOptionPad -TCPOptionMaxSegSize 
4: 10.201.4.2 Xms [Reply: TCP ( RST ACK )] 
` {
				t.Fatalf("got:\n%s\nflowbox:\n%s", mask(got), stop())
			}
			// The option detector, run by bin/tracebox, pins the strip
			// between hop 2 and hop 3.
			got, _ = l2.tracebox("-n", "-t", "0.3", "-s", filepath.Join(scriptDir(), "detect_tcp_opts.lua"), "10.201.4.2")
			if want := "MSS: removed or changed before hop 3 (10.201.3.2): TCP::CheckSum IP::TTL IP::CheckSum +TCPOptionPad -TCPOptionMaxSegSize \n" +
				"WScale: no change detected\nSACKPermitted: no change detected\nTimestamp: no change detected\n" +
				"MD5: no change detected\nMPCapable: no change detected\n"; got != want {
				t.Fatalf("detect_tcp_opts.lua:\n%s\nwant:\n%s", got, want)
			}
			t.Logf("flowbox handlers:\n%s", stop())
			if el := time.Since(start); el > 30*time.Second {
				t.Errorf("took %v", el)
			}
		})
	}
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }
