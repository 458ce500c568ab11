package classifier

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
	"flowbox/elements/elemtest"
)

func TestIPFilterActions(t *testing.T) {
	h := elemtest.New(t, "IPFilter", "allow udp dst port 53, 1 tcp, drop icmp, deny src host 10.0.0.9, 2 all", 1, 3)
	pkts := []*packet.Packet{
		ipPacket(h, frame(17, hostA, hostB, 1, 53, 64)),               // allow -> 0
		ipPacket(h, frame(6, hostA, hostB, 2, 80, 64)),                // 1
		ipPacket(h, frame(1, hostA, hostB, 3, 0, 64)),                 // dropped
		ipPacket(h, frame(17, [4]byte{10, 0, 0, 9}, hostB, 4, 9, 64)), // denied
		ipPacket(h, frame(17, hostA, hostB, 5, 54, 64)),               // 2
	}
	h.PushPackets(0, pkts...)
	if got, want := idsByOutput(h), [][]uint16{{1}, {2}, {5}}; !reflect.DeepEqual(got, want) {
		t.Errorf("outputs %v, want %v", got, want)
	}
	if h.Elem.Core().Drops != 2 {
		t.Errorf("Drops = %d, want 2", h.Elem.Core().Drops)
	}
	// The unmatched handler counts deny/drop rules too, as documented.
	if got := h.Read("unmatched"); got != "2" {
		t.Errorf("unmatched = %s, want 2 (denied and dropped)", got)
	}
	if d := core.Lookup("IPFilter").Doc; !strings.Contains(fmt.Sprint(d.Handlers), "deny/drop rule") {
		t.Errorf("IPFilter doc does not say unmatched counts deny/drop rules: %v", d.Handlers)
	}
}

func TestIPFilterUnmatchedAndNoHeader(t *testing.T) {
	h := elemtest.New(t, "IPFilter", "allow tcp", 1, 1)
	noAnno := h.Packet(frame(6, hostA, hostB, 1, 2, 64)) // no IP annotation
	h.PushPackets(0, noAnno, ipPacket(h, frame(17, hostA, hostB, 3, 4, 64)), ipPacket(h, frame(6, hostA, hostB, 5, 6, 64)))
	if got := idsByOutput(h); !reflect.DeepEqual(got, [][]uint16{{5}}) {
		t.Errorf("outputs %v", got)
	}
	f := h.Elem.(*IPFilter)
	if f.noHeader != 1 || f.unmatched != 1 || f.Drops != 2 {
		t.Errorf("noHeader %d unmatched %d drops %d, want 1 1 2", f.noHeader, f.unmatched, f.Drops)
	}
	if got := h.Read("unmatched"); got != "1" {
		t.Errorf("unmatched handler = %q", got)
	}
}

// The Click tests IPFilter-01/02/03: tests that read past the end of the
// packet are false for == and !=, and "not" of such a test is true.
func TestIPFilterShortPackets(t *testing.T) {
	cases := []struct {
		config string
		ipLen  int // bytes of IP data left
		want   [][]uint16
	}{
		{"0 ip[19]&128==0", 20, [][]uint16{{7}}},
		{"0 ip[19]&128==0", 19, [][]uint16{nil}},
		{"0 transp[1]&128==0, 1 -", 21, [][]uint16{nil, {7}}},
		{"0 transp[1]&128!=0, 1 -", 21, [][]uint16{nil, {7}}},
		{"0 not (transp[1]&128==0), 1 -", 21, [][]uint16{{7}, nil}},
		{"0 transp[1]&128==0 || transp[1]&128==128, 1 -", 21, [][]uint16{nil, {7}}},
		{"0 transp[1]&128==0 || transp[1]&128==128, 1 -", 22, [][]uint16{{7}, nil}},
	}
	for _, c := range cases {
		h := elemtest.New(t, "IPFilter", c.config, 1, len(c.want))
		p := ipPacket(h, frame(17, hostA, hostB, 7, 9, 64))
		p.SetLen(h.Ctx.Pool, 14+c.ipLen)
		h.PushPackets(0, p)
		got := make([][]uint16, len(h.Outs))
		for i, o := range h.Outs {
			for range o.Pkts {
				got[i] = append(got[i], 7)
			}
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s on %d IP bytes: outputs %v, want %v", c.config, c.ipLen, got, c.want)
		}
	}
}

func TestIPFilterConfigErrors(t *testing.T) {
	cases := []struct{ config, want string }{
		{"allow src port foo", "pattern 0: col 16: expected port number or name, got 'foo'"},
		{"allow tcp, 3 udp", "pattern 1: output 3 out of range (element has 2 outputs)"},
		{"permit tcp", "pattern 0: expected action allow, deny, drop or an output number"},
		{"allow", "pattern 0: missing pattern after action"},
		{"deny tcp, allow (udp", "pattern 1: col 11: expected ')', got end of pattern"},
	}
	for _, c := range cases {
		_, err := elemtest.Build(t, "IPFilter", c.config, elemtest.Options{Inputs: 1, Outputs: 2})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.config, err, c.want)
		}
	}
}

func TestIPFilterWarnsUnreachable(t *testing.T) {
	h := elemtest.New(t, "IPFilter", "allow all, deny tcp", 1, 1)
	if len(h.Router.Logs) != 1 || !strings.Contains(h.Router.Logs[0], "pattern 1 is unreachable") {
		t.Errorf("logs %q, want one unreachable warning", h.Router.Logs)
	}
}

func TestIPFilterProgramHandler(t *testing.T) {
	h := elemtest.New(t, "IPFilter", "deny src net 192.168.0.0/16, allow udp", 1, 1)
	prog := h.Read("program")
	for _, want := range []string{"ip[12:2] == 0xc0a8", "ip[9:1] == 0x11", "drop", "[0]"} {
		if !strings.Contains(prog, want) {
			t.Errorf("program lacks %q:\n%s", want, prog)
		}
	}
}

var benchConfig = "deny src net 192.168.0.0/16, deny dst net 172.16.0.0/12, deny src host 10.9.9.9, " +
	"deny dst host 10.0.0.99, deny tcp, deny icmp, deny udp dst port 53, deny udp src port 161, " +
	"deny udp dst port > 60000, deny ip ttl 0, allow all"

// fullBatch builds a batch of 64 clones of one 64-byte UDP packet.
func fullBatch(h *elemtest.Harness) (*packet.Packet, *packet.Batch) {
	tmpl := ipPacket(h, frame(17, hostA, hostB, 1234, 5678, 64))
	b := new(packet.Batch)
	h.Ctx.Pool.CloneN(tmpl, b, packet.MaxBatch)
	return tmpl, b
}

func TestIPFilterBenchRulesPassAndAllocateNothing(t *testing.T) {
	h := elemtest.New(t, "IPFilter", benchConfig, 1, 1)
	h.Outs[0].Discard = true
	tmpl, b := fullBatch(h)
	f := h.Elem.(*IPFilter)
	f.Push(h.Ctx, 0, b)
	if h.Outs[0].Count != packet.MaxBatch || f.Drops != 0 {
		t.Fatalf("passed %d, dropped %d; want all %d to pass", h.Outs[0].Count, f.Drops, packet.MaxBatch)
	}
	allocs := testing.AllocsPerRun(200, func() {
		h.Ctx.Pool.CloneN(tmpl, b, packet.MaxBatch)
		f.Push(h.Ctx, 0, b)
	})
	if allocs != 0 {
		t.Errorf("Push allocates %v times per batch", allocs)
	}
}

// reuseSink takes batches without freeing them, so a benchmark can push
// the same packets again and time only the element under test.
type reuseSink struct{ n int }

func (s *reuseSink) Push(_ *core.Ctx, _ int, b *packet.Batch) { s.n += b.N; b.N = 0 }

// BenchmarkIPFilterF times IPFilter alone (classification, Emit, Flush) on
// batches of 64 packets that pass all eleven rules.
func BenchmarkIPFilterF(b *testing.B) {
	h := elemtest.New(b, "IPFilter", benchConfig, 1, 1)
	sink := &reuseSink{}
	h.Elem.Core().Output(0).Connect(sink, 0)
	_, batch := fullBatch(h)
	pkts := batch.P
	f := h.Elem.(*IPFilter)
	for b.Loop() {
		batch.P, batch.N = pkts, packet.MaxBatch
		f.Push(h.Ctx, 0, batch)
	}
	if sink.n != b.N*packet.MaxBatch {
		b.Fatalf("%d of %d packets passed", sink.n, b.N*packet.MaxBatch)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*packet.MaxBatch), "ns/packet")
}
