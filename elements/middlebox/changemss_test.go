package middlebox

import (
	"bytes"
	"testing"

	"github.com/google/gopacket/layers"
)

func TestChangeMSS(t *testing.T) {
	syn := func(opts ...layers.TCPOption) []byte {
		s := defSpec()
		s.syn, s.opts = true, opts
		return s.build(t)
	}
	ack := defSpec()
	ack.ackf, ack.opts = true, []layers.TCPOption{mssOpt(9000)}
	cases := []struct {
		name, config string
		in           []byte
		wantMSS      int // -1: no option
		wantLenDelta int
		changed      string
	}{
		{"set lower", "1200", syn(mssOpt(1460)), 1200, 0, "1"},
		{"set higher", "9000", syn(mssOpt(1460)), 9000, 0, "1"},
		{"clamp lowers", "1200, CLAMP true", syn(mssOpt(1460)), 1200, 0, "1"},
		{"clamp keeps smaller", "1400, CLAMP true", syn(mssOpt(536)), 536, 0, "0"},
		{"same value", "1460", syn(mssOpt(1460)), 1460, 0, "0"},
		{"after other options", "1000", syn(sackOKOpt(), wsOpt(7), mssOpt(1460)), 1000, 0, "1"},
		{"absent, no add", "1200", syn(), -1, 0, "0"},
		{"absent, add", "1200, ADD true", syn(), 1200, 4, "1"},
		{"absent, add with options", "1200, ADD true", syn(wsOpt(7), sackOKOpt(), tsOpt()), 1200, 4, "1"},
		{"not a SYN", "1200", ack.build(t), 9000, 0, "0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, out := run(t, "ChangeMSS", tc.config, 1, 0, tc.in)
			if len(out) != 1 {
				t.Fatalf("%d packets out", len(out))
			}
			if len(out[0])-len(tc.in) != tc.wantLenDelta {
				t.Fatalf("length %d -> %d", len(tc.in), len(out[0]))
			}
			_, tcp := decode(t, out[0])
			m := opt(tcp, layers.TCPOptionKindMSS)
			got := -1
			if m != nil {
				got = int(m[0])<<8 | int(m[1])
			}
			if got != tc.wantMSS {
				t.Fatalf("MSS %d, want %d", got, tc.wantMSS)
			}
			if h.Read("count") != tc.changed {
				t.Fatalf("count %s, want %s", h.Read("count"), tc.changed)
			}
			if tc.wantLenDelta > 0 {
				// the rest of the header and the payload are intact
				_, in := decode(t, tc.in)
				if len(tcp.Options) != len(in.Options)+1 || !bytes.Equal(tcp.Payload, in.Payload) {
					t.Fatalf("options %v, want %v plus MSS", tcp.Options, in.Options)
				}
			}
		})
	}
}

// ChangeMSS ADD grows the packet into the tailroom when there is no
// headroom, and gives up (unchanged, counted) on a full 60-byte header.
func TestChangeMSSAddRoom(t *testing.T) {
	s := defSpec()
	s.syn, s.payload = true, []byte("hello")
	in := s.build(t)
	h := newHarness(t, "ChangeMSS", "1300, ADD true")
	p := h.Packet(in)
	hr := p.Headroom()
	p.Push(h.Ctx.Pool, hr) // no headroom left: a 128-byte "link header"
	p.SetNetworkAt(hr)
	h.PushPackets(0, p)
	q := h.Outs[0].Pkts[0]
	if q.NetworkOffset() != hr || q.Headroom() != 0 {
		t.Fatalf("network offset %d headroom %d", q.NetworkOffset(), q.Headroom())
	}
	out := q.Network()
	if !sumsValid(out) || len(out) != len(in)+4 {
		t.Fatalf("bad output % x", out)
	}
	_, tcp := decode(t, out)
	if string(tcp.Payload) != "hello" {
		t.Fatalf("payload %q", tcp.Payload)
	}
	// a full header: 40 bytes of options
	s.payload = nil
	s.opts = []layers.TCPOption{tsOpt(), tsOpt(), tsOpt(), tsOpt(), {OptionType: 1}, {OptionType: 1}}
	full := s.build(t)
	h2, out2 := run(t, "ChangeMSS", "1300, ADD true", 1, 0, full)
	if !bytes.Equal(out2[0], full) || h2.Read("added") != "0" {
		t.Fatalf("full header changed: % x", out2[0])
	}
}
