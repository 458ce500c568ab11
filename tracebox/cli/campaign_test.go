package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"flowbox/tracebox"
	"flowbox/tracebox/cli"
	"flowbox/tracebox/tbxsim"
)

func simTransport() tracebox.Transport {
	a := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	p := &tbxsim.Path{Routers: []tbxsim.Router{{Addr: a("10.0.1.1")}, {Addr: a("10.0.2.1"), Modify: tbxsim.ClampMSS(500)}, {Addr: a("10.0.3.1")}, {Addr: a("10.0.4.1")}}, Dst: a("1.2.3.4")}
	return p.Transport()
}

func TestCampaignJSONLinesAndSummary(t *testing.T) {
	f := filepath.Join(t.TempDir(), "targets")
	os.WriteFile(f, []byte("# targets\n1.2.3.4\n1.2.3.4 # again\n\n1.2.3.4\n"), 0o644)
	var out, errb bytes.Buffer
	code := cli.Main([]string{"-n", "-j", "--summary", "--targets", f, "-p", "IP/TCP/mss(9000)"}, cli.Env{Stdout: &out, Stderr: &errb, Transport: simTransport})
	if code != 0 {
		t.Fatal(errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines:\n%s", len(lines), out.String())
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, `{ "addr": "1.2.3.4", "name": "1.2.3.4", "max_hops": 64, "Hops": [ `) || !strings.Contains(l, `"hop": 5, "from": "1.2.3.4"`) {
			t.Fatalf("line %q", l)
		}
	}
	s := errb.String()
	if !strings.Contains(s, "TARGET") || !strings.Contains(s, "TCPOptionMaxSegSize::MaxSegSize") || !strings.Contains(s, "3 targets, 15 probes") {
		t.Fatalf("summary:\n%s", s)
	}
}

func TestLimiter(t *testing.T) {
	l := cli.NewLimiter(200)
	start := time.Now()
	for i := 0; i < 21; i++ {
		l.Wait(context.Background())
	}
	if el := time.Since(start); el < 90*time.Millisecond || el > 400*time.Millisecond {
		t.Fatalf("21 sends at 200/s took %v", el)
	}
}

// BenchmarkCampaign reports probes/s of the campaign engine (simulated
// 5-hop paths, unlimited rate, 8 in parallel).
func BenchmarkCampaign(b *testing.B) {
	targets := make([]string, 64)
	for i := range targets {
		targets[i] = "1.2.3.4"
	}
	var probes int64
	start := time.Now()
	for i := 0; i < b.N; i++ {
		probes += cli.Campaign(context.Background(), targets, tracebox.Options{}, 8, cli.NewLimiter(0), simTransport, func(cli.CampaignResult) {})
	}
	b.ReportMetric(float64(probes)/time.Since(start).Seconds(), "probes/s")
	_ = fmt.Sprint()
}
