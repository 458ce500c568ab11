package middlebox

import (
	"testing"

	"github.com/google/gopacket/layers"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
	"flowbox/elements/elemtest"
)

// TestDocs checks that every class of the package is fully documented.
func TestDocs(t *testing.T) {
	if len(elementConfigs) != 11 {
		t.Fatalf("elementConfigs lists %d classes", len(elementConfigs))
	}
	for _, ec := range elementConfigs {
		c := core.Lookup(ec.class)
		if c == nil {
			t.Fatalf("%s not registered", ec.class)
		}
		d := c.Doc
		if d.Synopsis == "" || d.Summary == "" || d.Description == "" || d.Ports == "" || d.Example == "" ||
			len(d.Args) == 0 || len(d.Handlers) == 0 {
			t.Errorf("%s: incomplete Doc", ec.class)
		}
		// every handler the element has is documented, and vice versa
		h := elemtest2(t, ec.class, ec.config, ec.ports)
		hs := h.Elem.(core.HandlerProvider).Handlers()
		documented := map[string]bool{}
		for _, it := range d.Handlers {
			documented[it.Name] = true
		}
		if len(hs) != len(documented) {
			t.Errorf("%s: %d handlers, %d documented", ec.class, len(hs), len(documented))
		}
		for _, x := range hs {
			if !documented[x.Name] {
				t.Errorf("%s: handler %s undocumented", ec.class, x.Name)
			}
		}
	}
}

// samples are packets exercising every element's main path.
func samples(t testing.TB) [][]byte {
	syn := defSpec()
	syn.syn = true
	syn.opts = []layers.TCPOption{mssOpt(1460), sackOKOpt(), tsOpt(), wsOpt(7)}
	data := defSpec()
	data.ackf, data.payload = true, append([]byte("abc--abc"), payloadOf(300)...)
	data2 := data
	data2.seq += uint32(len(data.payload))
	sack := defSpec()
	sack.ackf, sack.opts = true, []layers.TCPOption{{OptionType: 1}, {OptionType: 1}, sackOpt(1, 2, 3, 4)}
	return [][]byte{syn.build(t), data.build(t), data2.build(t), sack.build(t)}
}

// TestZeroAllocs runs full batches through every element.
func TestZeroAllocs(t *testing.T) {
	tmpl := samples(t)
	for _, ec := range elementConfigs {
		t.Run(ec.class, func(t *testing.T) {
			h := elemtest2(t, ec.class, ec.config, ec.ports)
			for _, c := range h.Outs {
				c.Discard = true
			}
			var b packet.Batch
			round := func() {
				for port := 0; port < ec.ports; port++ {
					for i := 0; i < packet.MaxBatch; i++ {
						p := h.Ctx.Pool.NewFrom(tmpl[i%len(tmpl)])
						p.SetNetworkAt(0)
						b.Append(p)
					}
					h.PushBatch(port, &b)
				}
				h.FireTimers(1 << 62)
				h.Ctx.Now = 1
			}
			round()
			if a := testing.AllocsPerRun(50, round); a != 0 {
				t.Fatalf("%v allocations per round", a)
			}
			if h.Outs[0].Count == 0 {
				t.Fatal("nothing came out")
			}
		})
	}
}

// FuzzElements feeds random bytes (annotated as an IP header at offset 0)
// through every element on every input: nothing may panic, and a packet
// that came in with valid checksums leaves with valid checksums.
func FuzzElements(f *testing.F) {
	for _, s := range samples(f) {
		f.Add(s)
		f.Add(s[:30])
		f.Add(append(append([]byte(nil), s...), 0, 0, 0, 0)) // link padding
	}
	bad := samples(f)[0]
	bad[32] = 0xf0 // data offset beyond the segment
	f.Add(bad)
	f.Add([]byte{0x45})
	f.Add([]byte{})
	// One harness per element for the whole run (building a harness fills
	// a fresh pool, which dominates the cost of an execution).
	var hs []*elemtest.Harness
	for _, ec := range elementConfigs {
		hs = append(hs, elemtest.New(f, ec.class, ec.config, ec.ports, ec.ports))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1800 {
			t.Skip()
		}
		valid := len(data) >= 20 && sumsValid(data)
		for i, ec := range elementConfigs {
			h := hs[i]
			for _, c := range h.Outs {
				for _, p := range c.Pkts {
					h.Ctx.Pool.Free(p)
				}
				c.Pkts = c.Pkts[:0]
			}
			h.Ctx.Now = 1 // so that FireTimers below releases what is held
			for port := 0; port < ec.ports; port++ {
				h.PushPackets(port, annotated(h, data, data)...)
			}
			h.FireTimers(1 << 62)
			for port, c := range h.Outs {
				for _, p := range c.Pkts {
					ip := p.Network()
					if valid && (ip == nil || !sumsValid(ip)) {
						t.Fatalf("%s port %d: valid input, invalid output % x", ec.class, port, ip)
					}
				}
			}
		}
	})
}
