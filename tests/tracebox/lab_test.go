// Lab tests: a chain src -> r1 -> r2 -> r3 -> dst of Linux routers in
// network namespaces created by the test (names prefixed "tbx"), with
// modifications applied at r2 by nftables rules (installed through the
// netlink library, no nft binary needed), an RFC 792 router emulated by a
// helper process, a silent hop, a silent destination and IPv6. The real
// bin/tracebox runs inside the src namespace and its exact output is
// asserted. Needs root; skipped otherwise.
package tracebox_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"flowbox/tests/testbin"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

var tbxBin string

func TestMain(m *testing.M) {
	if os.Getenv("TBX_HELPER") == "rfc792" {
		os.Exit(rfc792Main())
	}
	testbin.Main(m, testbin.Tracebox, &tbxBin)
}

var labSeq atomic.Uint32

type lab struct {
	t    *testing.T
	id   string
	ns   map[string]string // role -> namespace name
	srcN string
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("lab tests need root (network namespaces, raw sockets, nftables)")
	}
	if runtime.GOOS != "linux" {
		t.Skip("lab tests need Linux")
	}
}

func (l *lab) sh(args ...string) {
	l.t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		l.t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func (l *lab) in(role string, args ...string) {
	l.t.Helper()
	l.sh(append([]string{"ip", "netns", "exec", l.ns[role]}, args...)...)
}

// newLab builds src - r1 - r2 - r3 - dst with 10.201.N.0/24 and
// fd00:201:N::/64 on link N (left end .1/::1 is the router side towards
// dst... see addrs below, chosen to match the tracebox reference captures).
func newLab(t *testing.T) *lab {
	needRoot(t)
	l := &lab{t: t, id: fmt.Sprintf("%03x%x", os.Getpid()&0xfff, labSeq.Add(1)&0xf), ns: map[string]string{}}
	roles := []string{"s", "r1", "r2", "r3", "d"}
	for _, r := range roles {
		l.ns[r] = "tbx" + l.id + r
	}
	t.Cleanup(func() {
		for _, r := range roles {
			exec.Command("ip", "netns", "del", l.ns[r]).Run()
		}
	})
	for _, r := range roles {
		l.sh("ip", "netns", "add", l.ns[r])
		l.in(r, "ip", "link", "set", "lo", "up")
		l.in(r, "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1",
			"net.ipv4.icmp_ratelimit=0", "net.ipv6.icmp.ratelimit=0", "net.ipv6.conf.default.accept_dad=0", "net.ipv6.conf.all.accept_dad=0")
	}
	// link N joins roles[N-1] (left) and roles[N] (right).
	// Addresses: link 1: s=.2, r1=.1; link 2: r1=.1, r2=.2; link 3: r2=.1,
	// r3=.2; link 4: r3=.1, d=.2 (hops answer 10.201.1.1, 10.201.2.2,
	// 10.201.3.2, dst 10.201.4.2 as in the reference captures).
	leftHost := map[int]string{1: "2", 2: "1", 3: "1", 4: "1"}
	rightHost := map[int]string{1: "1", 2: "2", 3: "2", 4: "2"}
	for n := 1; n <= 4; n++ {
		a, b := fmt.Sprintf("tbx%s%da", l.id, n), fmt.Sprintf("tbx%s%db", l.id, n)
		l.sh("ip", "link", "add", a, "netns", l.ns[roles[n-1]], "type", "veth", "peer", "name", b, "netns", l.ns[roles[n]])
		l.in(roles[n-1], "ip", "addr", "add", fmt.Sprintf("10.201.%d.%s/24", n, leftHost[n]), "dev", a)
		l.in(roles[n], "ip", "addr", "add", fmt.Sprintf("10.201.%d.%s/24", n, rightHost[n]), "dev", b)
		l.in(roles[n-1], "ip", "-6", "addr", "add", fmt.Sprintf("fd00:201:%d::%s/64", n, leftHost[n]), "dev", a, "nodad")
		l.in(roles[n], "ip", "-6", "addr", "add", fmt.Sprintf("fd00:201:%d::%s/64", n, rightHost[n]), "dev", b, "nodad")
		l.in(roles[n-1], "ip", "link", "set", a, "up")
		l.in(roles[n], "ip", "link", "set", b, "up")
	}
	route := func(role, pfx, via string) { l.in(role, "ip", "route", "add", pfx, "via", via) }
	route6 := func(role, pfx, via string) { l.in(role, "ip", "-6", "route", "add", pfx, "via", via) }
	route("s", "default", "10.201.1.1")
	route6("s", "default", "fd00:201:1::1")
	route("d", "default", "10.201.4.1")
	route6("d", "default", "fd00:201:4::1")
	// r1: right = link 2 (r2 = .2), r2: left link 2 (r1=.1), right link 3 (r3=.2)
	for _, n := range []int{3, 4} {
		route("r1", fmt.Sprintf("10.201.%d.0/24", n), "10.201.2.2")
		route6("r1", fmt.Sprintf("fd00:201:%d::/64", n), "fd00:201:2::2")
	}
	route("r2", "10.201.1.0/24", "10.201.2.1")
	route6("r2", "fd00:201:1::/64", "fd00:201:2::1")
	route("r2", "10.201.4.0/24", "10.201.3.2")
	route6("r2", "fd00:201:4::/64", "fd00:201:3::2")
	for _, n := range []int{1, 2} {
		route("r3", fmt.Sprintf("10.201.%d.0/24", n), "10.201.3.1")
		route6("r3", fmt.Sprintf("fd00:201:%d::/64", n), "fd00:201:3::1")
	}
	return l
}

// nft installs one table (family) with one base chain in ns and the rules.
func (l *lab) nft(role string, fam nftables.TableFamily, hook *nftables.ChainHook, rules ...[]expr.Any) {
	l.t.Helper()
	f, err := os.Open("/run/netns/" + l.ns[role])
	if err != nil {
		l.t.Fatal(err)
	}
	defer f.Close()
	c, err := nftables.New(nftables.WithNetNSFd(int(f.Fd())))
	if err != nil {
		l.t.Fatal(err)
	}
	tb := c.AddTable(&nftables.Table{Family: fam, Name: "tbxlab"})
	ch := c.AddChain(&nftables.Chain{Name: "c", Table: tb, Type: nftables.ChainTypeFilter, Hooknum: hook, Priority: nftables.ChainPriorityMangle})
	for _, r := range rules {
		c.AddRule(&nftables.Rule{Table: tb, Chain: ch, Exprs: r})
	}
	if err := c.Flush(); err != nil {
		l.t.Fatalf("nftables in %s: %v", role, err)
	}
}

// tracebox runs bin/tracebox in the src namespace.
func (l *lab) tracebox(args ...string) (string, time.Duration) {
	l.t.Helper()
	start := time.Now()
	cmd := exec.Command("ip", append([]string{"netns", "exec", l.ns["s"], tbxBin}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		l.t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			l.t.Fatalf("tracebox %v: %v\n%s%s", args, err, out.String(), errb.String())
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		l.t.Fatalf("tracebox %v timed out", args)
	}
	return out.String(), time.Since(start)
}

var labDelay = regexp.MustCompile(` [0-9]+\.[0-9]{3}ms`)

func mask(s string) string { return labDelay.ReplaceAllString(s, " Xms") }

func expectLines(t *testing.T, got, want string) {
	t.Helper()
	if mask(got) != want {
		t.Fatalf("got:\n%s\nwant:\n%s", mask(got), want)
	}
}

// Rule helpers (nftables expressions).
func tcpSYN() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 13, Len: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 1, Mask: []byte{0x02}, Xor: []byte{0}},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{0}},
	}
}

func setMSS(v uint16) []expr.Any {
	return append(tcpSYN(),
		&expr.Immediate{Register: 1, Data: binaryutil.BigEndian.PutUint16(v)},
		&expr.Exthdr{SourceRegister: 1, Type: 2, Offset: 2, Len: 2, Op: expr.ExthdrOpTcpopt})
}

func setWindow(v uint16) []expr.Any {
	return append(tcpSYN(),
		&expr.Immediate{Register: 1, Data: binaryutil.BigEndian.PutUint16(v)},
		&expr.Payload{OperationType: expr.PayloadWrite, SourceRegister: 1, Base: expr.PayloadBaseTransportHeader,
			Offset: 14, Len: 2, CsumType: expr.CsumTypeInet, CsumOffset: 16})
}

// setTOS rewrites the whole IPv4 TOS byte (DSCP+ECN), fixing the checksum
// (like nft's "ip dscp set": a 16-bit aligned read-modify-write).
func setTOS(v byte) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV4}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 0, Len: 2},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 2, Mask: []byte{0xff, 0}, Xor: []byte{0, v}},
		&expr.Payload{OperationType: expr.PayloadWrite, SourceRegister: 1, Base: expr.PayloadBaseNetworkHeader,
			Offset: 0, Len: 2, CsumType: expr.CsumTypeInet, CsumOffset: 10},
	}
}

// dropTTL1 drops IPv4 packets arriving with TTL <= 1 (before the kernel
// would answer with its own time exceeded).
func dropTTL1() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV4}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 8, Len: 1},
		&expr.Cmp{Op: expr.CmpOpLte, Register: 1, Data: []byte{1}},
		&expr.Verdict{Kind: expr.VerdictDrop},
	}
}

func dropTCP() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
		&expr.Verdict{Kind: expr.VerdictDrop},
	}
}

func TestLabPlainPathFast(t *testing.T) {
	l := newLab(t)
	got, el := l.tracebox("-n", "-m", "8", "10.201.4.2")
	expectLines(t, got, `tracebox to 10.201.4.2 (10.201.4.2): 8 hops max
1: 10.201.1.1 Xms 
2: 10.201.2.2 Xms IP::TTL IP::CheckSum 
3: 10.201.3.2 Xms IP::TTL IP::CheckSum 
4: 10.201.4.2 Xms [Reply: TCP ( RST ACK )] 
`)
	// the whole run (process start included) is well under a second
	if el > time.Second {
		t.Errorf("trace took %v", el)
	}
}

func TestLabMSSClampAtR2(t *testing.T) {
	l := newLab(t)
	l.nft("r2", nftables.TableFamilyINet, nftables.ChainHookForward, setMSS(500))
	got, _ := l.tracebox("-n", "-m", "8", "-p", "IP / TCP / mss(9000)", "10.201.4.2")
	expectLines(t, got, `tracebox to 10.201.4.2 (10.201.4.2): 8 hops max
1: 10.201.1.1 Xms 
2: 10.201.2.2 Xms IP::TTL IP::CheckSum 
3: 10.201.3.2 Xms TCP::CheckSum IP::TTL IP::CheckSum TCPOptionMaxSegSize::MaxSegSize 
4: 10.201.4.2 Xms [Reply: TCP ( RST ACK )] 
`)
	got, _ = l.tracebox("-n", "-v", "-m", "8", "-p", "IP / TCP / mss(9000)", "10.201.4.2")
	if !strings.Contains(got, "TCPOptionMaxSegSize::MaxSegSize (9000 -> 500)") || !strings.Contains(got, "IP::TTL (3 -> 1)") {
		t.Fatalf("verbose output:\n%s", got)
	}
}

func TestLabDSCPECNWindowAtR2(t *testing.T) {
	l := newLab(t)
	l.nft("r2", nftables.TableFamilyINet, nftables.ChainHookForward, setTOS(0), setWindow(1000))
	got, _ := l.tracebox("-n", "-m", "8", "-p", "ip{dscp=10, ecn=2} / TCP", "10.201.4.2")
	expectLines(t, got, `tracebox to 10.201.4.2 (10.201.4.2): 8 hops max
1: 10.201.1.1 Xms 
2: 10.201.2.2 Xms IP::TTL IP::CheckSum 
3: 10.201.3.2 Xms TCP::WindowsSize TCP::CheckSum IP::DiffServicesCP IP::ExpCongestionNot IP::TTL IP::CheckSum 
4: 10.201.4.2 Xms [Reply: TCP ( RST ACK )] 
`)
}

func TestLabSilentHopAndJSON(t *testing.T) {
	l := newLab(t)
	l.nft("r2", nftables.TableFamilyIPv4, nftables.ChainHookPrerouting, dropTTL1())
	got, _ := l.tracebox("-n", "-t", "0.2", "-m", "8", "10.201.4.2")
	expectLines(t, got, `tracebox to 10.201.4.2 (10.201.4.2): 8 hops max
1: 10.201.1.1 Xms 
2: *
3: 10.201.3.2 Xms IP::TTL IP::CheckSum 
4: 10.201.4.2 Xms [Reply: TCP ( RST ACK )] 
`)
	js, _ := l.tracebox("-n", "-j", "-t", "0.2", "-m", "8", "10.201.4.2")
	js = regexp.MustCompile(`"delay": [0-9]+`).ReplaceAllString(js, `"delay": D`)
	want := `{ "addr": "10.201.4.2", "name": "10.201.4.2", "max_hops": 8, "Hops": [ ` +
		`{ "hop": 1, "from": "10.201.1.1", "delay": D, "Modifications": [ ], "Additions": [ ], "Deletions": [ ] }, ` +
		`{ "hop": 2, "from": "*" }, ` +
		`{ "hop": 3, "from": "10.201.3.2", "delay": D, "Modifications": [ "IP::TTL", "IP::CheckSum" ], "Additions": [ ], "Deletions": [ ] }, ` +
		`{ "hop": 4, "from": "10.201.4.2", "delay": D, "Modifications": [ ], "Additions": [ ], "Deletions": [ ], "Reply": "TCP ( RST ACK )" } ] }` + "\n"
	if js != want {
		t.Fatalf("json:\n%s\nwant:\n%s", js, want)
	}
}

func TestLabSilentDestinationStopsEarly(t *testing.T) {
	l := newLab(t)
	l.nft("d", nftables.TableFamilyINet, nftables.ChainHookInput, dropTCP())
	got, el := l.tracebox("-n", "-t", "0.2", "-m", "20", "10.201.4.2")
	expectLines(t, got, `tracebox to 10.201.4.2 (10.201.4.2): 20 hops max
1: 10.201.1.1 Xms 
2: 10.201.2.2 Xms IP::TTL IP::CheckSum 
3: 10.201.3.2 Xms IP::TTL IP::CheckSum 
4: *
5: *
6: *
`)
	// 3 silent hops x 3 tries x 0.2 s, not 17 hops
	if el > 4*time.Second {
		t.Errorf("silent tail took %v", el)
	}
}

func TestLabIPv6MSS(t *testing.T) {
	l := newLab(t)
	l.nft("r2", nftables.TableFamilyINet, nftables.ChainHookForward, setMSS(500))
	got, _ := l.tracebox("-n", "-m", "8", "-p", "IPv6 / TCP / mss(9000)", "fd00:201:4::2")
	expectLines(t, got, `tracebox to fd00:201:4::2 (fd00:201:4::2): 8 hops max
1: fd00:201:1::1 Xms 
2: fd00:201:2::2 Xms IPv6::HopLimit 
3: fd00:201:3::2 Xms TCP::CheckSum IPv6::HopLimit TCPOptionMaxSegSize::MaxSegSize 
4: fd00:201:4::2 Xms [Reply: TCP ( RST ACK )] 
`)
}

func TestLabRFC792Router(t *testing.T) {
	l := newLab(t)
	l.nft("r2", nftables.TableFamilyIPv4, nftables.ChainHookPrerouting, dropTTL1())
	l.nft("r1", nftables.TableFamilyINet, nftables.ChainHookForward, setMSS(500))
	cmd := exec.Command("ip", "netns", "exec", l.ns["r2"], os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "TBX_HELPER=rfc792")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ready := make([]byte, 6)
	if _, err := stdout.Read(ready); err != nil {
		t.Fatalf("helper: %v", err)
	}
	got, _ := l.tracebox("-n", "-m", "8", "-p", "IP / tcp{dst=80, seq=1000} / mss(9000)", "10.201.4.2")
	expectLines(t, got, `tracebox to 10.201.4.2 (10.201.4.2): 8 hops max
1: 10.201.1.1 Xms 
2: 10.201.2.2 Xms  [PARTIAL] +PartialTCP IP::TTL IP::CheckSum 
3: 10.201.3.2 Xms TCP::CheckSum IP::TTL IP::CheckSum TCPOptionMaxSegSize::MaxSegSize 
4: 10.201.4.2 Xms [Reply: TCP ( RST ACK )] 
`)
}
