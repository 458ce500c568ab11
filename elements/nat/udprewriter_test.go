package nat

import (
	"testing"

	"flowbox/appliance/core"
	"flowbox/appliance/proto"
)

// TestUDPRewriterTimeouts: every flow, TCP included, uses the UDP
// timeouts; UDP_STREAMING_TIMEOUT applies once the reply side has sent,
// and TCP FIN/RST do not shorten it.
func TestUDPRewriterTimeouts(t *testing.T) {
	const cfg = napt + ", drop, UDP_TIMEOUT 10s, UDP_STREAMING_TIMEOUT 60s, TCP_DONE_TIMEOUT 1s"
	tests := []struct {
		name  string
		out   pkt
		reply *pkt
		want  int64
	}{
		{"udp one way", udp("10.0.0.1", 1234, "10.0.0.2", 53), nil, 10},
		{"udp streaming", udp("10.0.0.1", 1234, "10.0.0.2", 53),
			&pkt{src: "10.0.0.2", sport: 53, dst: "1.0.0.1", dport: 1234, proto: proto.ProtoUDP}, 60},
		{"tcp syn", tcp("10.0.0.1", 1234, "10.0.0.2", 80, proto.TCPSyn), nil, 10},
		{"tcp rst", tcp("10.0.0.1", 1234, "10.0.0.2", 80, proto.TCPSyn),
			&pkt{src: "10.0.0.2", sport: 80, dst: "1.0.0.1", dport: 1234, proto: proto.ProtoTCP, flags: proto.TCPRst}, 60},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newRW(t, "UDPRewriter", cfg, 2, 2)
			pushAt(h, 5*sec, 0, tt.out)
			if len(take(h, 0)) != 1 {
				t.Fatal("first packet not forwarded")
			}
			if tt.reply != nil {
				pushAt(h, 5*sec, 1, *tt.reply)
				if len(take(h, 1)) != 1 {
					t.Fatal("reply not mapped")
				}
			}
			var f *Flow
			engineOf(h).table.Each(func(_ int32, x *Flow) { f = x })
			if got := (f.Expiry - 5*sec) / sec; got != tt.want {
				t.Errorf("timeout %ds, want %ds", got, tt.want)
			}
			h.FireTimers(5*sec + tt.want*sec)
			if got := h.Read("table_size"); got != "0" {
				t.Errorf("flow not reaped at expiry: size %s", got)
			}
		})
	}
}

func TestUDPRewriterRewrites(t *testing.T) {
	h := newRW(t, "UDPRewriter", "pattern 1.0.0.1 2000-2000 - - 0 0", 1, 1)
	pushAt(h, sec, 0, udp("10.0.0.1", 1234, "10.0.0.2", 53))
	got := take(h, 0)
	if len(got) != 1 {
		t.Fatal("not forwarded")
	}
	if k := tupleOf(got[0]); k != key("1.0.0.1", 2000, "10.0.0.2", 53, 17) {
		t.Errorf("tuple %v", k)
	}
	checkSums(t, got[0])
}

func TestRewriterDocs(t *testing.T) {
	for _, name := range []string{"IPRewriter", "TCPRewriter", "UDPRewriter"} {
		c := core.Lookup(name)
		if c == nil {
			t.Fatalf("%s not registered", name)
		}
		d := c.Doc
		if d.Synopsis == "" || d.Summary == "" || d.Description == "" || d.Ports == "" ||
			len(d.Args) == 0 || d.Example == "" {
			t.Errorf("%s: incomplete Doc", name)
		}
		h := newRW(t, name, "drop", 1, 1)
		documented := map[string]bool{}
		for _, it := range d.Handlers {
			documented[it.Name] = true
		}
		for _, hd := range h.Elem.(core.HandlerProvider).Handlers() {
			if !documented[hd.Name] {
				t.Errorf("%s: handler %q is not documented", name, hd.Name)
			}
		}
	}
}
