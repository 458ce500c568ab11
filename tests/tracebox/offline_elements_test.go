package tracebox_test

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"flowbox/appliance/core"
	"flowbox/appliance/lang"
	"flowbox/appliance/packet"
	"flowbox/appliance/runtime"
	_ "flowbox/elements/all"
	"flowbox/tracebox/cli"
	"flowbox/tracebox/tbxsim"
)

// sink collects what leaves an output of the in-process router.
type sink struct{ pkts [][]byte }

func (s *sink) Push(ctx *core.Ctx, _ int, b *packet.Batch) {
	for _, p := range b.Packets() {
		s.pkts = append(s.pkts, append([]byte(nil), p.Data()...))
	}
	ctx.Pool.FreeBatch(b)
}

// flowboxHop is one hop of the path that is a real flowbox graph: the
// probe enters CheckIPHeader, DecIPTTL diverts expired probes to
// ICMPError (the time-exceeded quoting the probe as received), and the
// others cross the middlebox elements under test.
type flowboxHop struct {
	in        core.Pusher
	ctx       *core.Ctx
	fwd, back *sink
}

func newFlowboxHop(t *testing.T, chain string) *flowboxHop {
	conf := "Idle -> in :: CheckIPHeader -> dec :: DecIPTTL -> " + chain + " -> fwd :: Null -> Discard;\n" +
		"dec[1] -> ICMPError(10.0.1.1, timeexceeded) -> back :: Null -> Discard;\n"
	g, err := lang.Parse("hop.click", []byte(conf), lang.Options{IsClass: func(s string) bool { return core.Lookup(s) != nil }})
	if err != nil {
		t.Fatal(err)
	}
	r, err := runtime.Build(g, runtime.BuildOptions{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	h := &flowboxHop{in: core.AsPusher(r.Node("in").Elem), ctx: core.NewCtx(0, &packet.Depot{}), fwd: &sink{}, back: &sink{}}
	r.Node("fwd").Elem.Core().Output(0).Connect(h.fwd, 0)
	r.Node("back").Elem.Core().Output(0).Connect(h.back, 0)
	return h
}

// process runs one packet through the hop: it returns the ICMP error the
// hop sent back, or the packet it forwarded.
func (h *flowboxHop) process(b []byte) (reply, fwd []byte) {
	h.fwd.pkts, h.back.pkts = nil, nil
	var bt packet.Batch
	bt.Append(h.ctx.Pool.NewFrom(b))
	h.in.Push(h.ctx, 0, &bt)
	if len(h.back.pkts) > 0 {
		return h.back.pkts[0], nil
	}
	if len(h.fwd.pkts) > 0 {
		return nil, h.fwd.pkts[0]
	}
	return nil, nil
}

// checksumsRight reports whether recomputing every checksum of b changes
// nothing.
func checksumsRight(b []byte) bool {
	c := append([]byte(nil), b...)
	tbxsim.FixChecksums(c)
	return bytes.Equal(b, c)
}

// serveOffline plays the path behind tracebox's offline mode: it reads the
// probes tracebox writes to the FIFO out and writes the replies to the
// FIFO in, probe by probe.
func serveOffline(t *testing.T, out, in string, hop *flowboxHop, rest *tbxsim.Path, badSums *[]string) {
	fo, err := os.Open(out) // blocks until tracebox creates OUT
	if err != nil {
		t.Error(err)
		return
	}
	defer fo.Close()
	fi, err := os.OpenFile(in, os.O_WRONLY, 0)
	if err != nil {
		t.Error(err)
		return
	}
	defer fi.Close()
	w := pcapgo.NewWriter(fi)
	if err := w.WriteFileHeader(65536, layers.LinkTypeRaw); err != nil {
		t.Error(err)
		return
	}
	r, err := pcapgo.NewReader(fo)
	if err != nil {
		t.Error(err)
		return
	}
	for {
		probe, _, err := r.ReadPacketData()
		if err != nil {
			return // tracebox closed OUT
		}
		reply, fwd := hop.process(probe)
		if fwd != nil {
			if !checksumsRight(fwd) {
				*badSums = append(*badSums, fmt.Sprintf("% x", fwd))
			}
			reply = rest.Process(fwd)
		}
		if reply == nil {
			continue
		}
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: time.Now(), CaptureLength: len(reply), Length: len(reply)}, reply); err != nil {
			return
		}
	}
}

// TestOfflineFlowboxMiddleboxes runs tracebox in offline mode
// (-i pcap:OUT:IN, both FIFOs) against 10.0.1.1 (a flowbox graph of
// middlebox elements) -> 10.0.2.1 -> 10.0.3.1 -> 1.2.3.4, and checks
// that hop 2, whose quote shows the probe as hop 1 forwarded it, reports
// exactly the fields the elements changed.
func TestOfflineFlowboxMiddleboxes(t *testing.T) {
	const probe = "ip{id=4660} / tcp{src=1234, dst=80, seq=42} / mss(9000)"
	cases := []struct {
		chain string
		hop2  string // modifications reported at hop 2
	}{
		{"ChangeMSS(1200) -> ChangeDSCP(10) -> ChangeSeq(1000)",
			"TCP::SeqNumber TCP::CheckSum IP::DiffServicesCP IP::TTL IP::CheckSum TCPOptionMaxSegSize::MaxSegSize"},
		{"ChangeIPID(99) -> ChangeECN(ce) -> ChangeWin(1024)",
			"TCP::WindowsSize TCP::CheckSum IP::ExpCongestionNot IP::Identification IP::TTL IP::CheckSum"},
		{"RemoveTCPOpt(mss)", // NOPs replace the option: tracebox sees padding
			"TCP::CheckSum IP::TTL IP::CheckSum +TCPOptionPad -TCPOptionMaxSegSize"},
		{"AddTCPOpt(sackok)",
			"TCP::DataOffset TCP::CheckSum IP::TotalLength IP::TTL IP::CheckSum +TCPOptionPad +TCPOptionSACKPermitted"},
	}
	a := netip.MustParseAddr
	for _, tc := range cases {
		t.Run(tc.chain, func(t *testing.T) {
			dir := t.TempDir()
			out, in := filepath.Join(dir, "out.pcap"), filepath.Join(dir, "in.pcap")
			for _, f := range []string{out, in} {
				if err := syscall.Mkfifo(f, 0o600); err != nil {
					t.Skip("no FIFOs:", err)
				}
			}
			hop := newFlowboxHop(t, tc.chain)
			rest := &tbxsim.Path{Routers: []tbxsim.Router{{Addr: a("10.0.2.1")}, {Addr: a("10.0.3.1")}}, Dst: a("1.2.3.4")}
			var bad []string
			var wg sync.WaitGroup
			wg.Add(1)
			go func() { defer wg.Done(); serveOffline(t, out, in, hop, rest, &bad) }()
			var stdout, stderr bytes.Buffer
			code := cli.Main([]string{"-n", "-m", "8", "-t", "2", "-p", probe, "-i", "pcap:" + out + ":" + in, "1.2.3.4"},
				cli.Env{Stdout: &stdout, Stderr: &stderr})
			wg.Wait()
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			if len(bad) > 0 {
				t.Fatalf("the flowbox hop forwarded packets with wrong checksums: %v", bad)
			}
			got := dDelay.ReplaceAllString(stdout.String(), " Xms")
			lines := strings.Split(got, "\n")
			if len(lines) < 5 || lines[1] != "1: 10.0.1.1 Xms " || !strings.HasPrefix(lines[4], "4: 1.2.3.4 Xms [Reply") {
				t.Fatalf("unexpected trace:\n%s", got)
			}
			if want := "2: 10.0.2.1 Xms " + tc.hop2 + " "; lines[2] != want {
				t.Fatalf("hop 2:\n%s\nwant:\n%s", lines[2], want)
			}
			// hop 3 quotes the same forwarded probe
			if want := "3: 10.0.3.1 Xms " + tc.hop2 + " "; lines[3] != want {
				t.Fatalf("hop 3:\n%s\nwant:\n%s", lines[3], want)
			}
		})
	}
}
