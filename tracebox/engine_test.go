package tracebox_test

import (
	"context"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"flowbox/tracebox"
	"flowbox/tracebox/tbxsim"
)

var (
	r1  = netip.MustParseAddr("10.201.1.1")
	r2  = netip.MustParseAddr("10.201.2.2")
	r3  = netip.MustParseAddr("10.201.3.2")
	dst = netip.MustParseAddr("10.201.4.2")
)

func labPath() *tbxsim.Path {
	return &tbxsim.Path{
		Routers: []tbxsim.Router{{Addr: r1}, {Addr: r2, Modify: tbxsim.ClampMSS(500)}, {Addr: r3}},
		Dst:     dst, DstMSS: 500,
	}
}

func run(t *testing.T, p *tbxsim.Path, o tracebox.Options, f tracebox.Format) string {
	t.Helper()
	o.Transport = p.Transport()
	if o.Host == "" {
		o.Host = dst.String()
	}
	if o.Timeout == 0 {
		o.Timeout = 50 * time.Millisecond
	}
	res, err := tracebox.Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return f.Text(res)
}

var delayRE = regexp.MustCompile(` [0-9.]+ms`)

func maskDelay(s string) string { return delayRE.ReplaceAllString(s, " Xms") }

// The reference capture of tracebox 0.4.4 on the lab (r2 clamps MSS to 500).
func TestCompatMSSClamp(t *testing.T) {
	got := run(t, labPath(), tracebox.Options{MaxTTL: 8, Compat: true}, tracebox.Format{NoResolve: true, Compat: true})
	want := `tracebox to 10.201.4.2 (10.201.4.2): 8 hops max
1: 10.201.1.1 0ms 
2: 10.201.2.2 0ms IP::TTL IP::CheckSum 
3: 10.201.3.2 0ms TCP::DataOffset TCP::CheckSum IP::TotalLength IP::TTL IP::CheckSum +TCPOptionMaxSegSize 
4: 10.201.4.2 0ms TCP::SrcPort TCP::DstPort TCP::SeqNumber TCP::AckNumber TCP::DataOffset TCP::Flags TCP::WindowsSize TCP::CheckSum IP::TotalLength IP::Identification IP::TTL IP::CheckSum IP::SourceIP IP::DestinationIP +TCPOptionMaxSegSize 
`
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func TestVerboseMSS(t *testing.T) {
	probe, err := tracebox.ParseProbe("IP / TCP / mss(9000)")
	if err != nil {
		t.Fatal(err)
	}
	got := run(t, labPath(), tracebox.Options{MaxTTL: 8, Probe: probe}, tracebox.Format{NoResolve: true, Verbose: true})
	lines := strings.Split(maskDelay(got), "\n")
	if !strings.HasPrefix(lines[2], "2: 10.201.2.2 Xms IP::TTL (2 -> 1) IP::CheckSum (0x") {
		t.Errorf("hop 2: %q", lines[2])
	}
	re := regexp.MustCompile(`^3: 10\.201\.3\.2 Xms TCP::CheckSum \(0x[0-9a-f]+ -> 0x[0-9a-f]+\) IP::TTL \(3 -> 1\) IP::CheckSum \(0x[0-9a-f]+ -> 0x[0-9a-f]+\) TCPOptionMaxSegSize::MaxSegSize \(9000 -> 500\) $`)
	if !re.MatchString(lines[3]) {
		t.Errorf("hop 3: %q", lines[3])
	}
	if lines[4] != "4: 10.201.4.2 Xms [Reply: TCP ( SYN ACK )] " {
		t.Errorf("hop 4: %q", lines[4])
	}
}
