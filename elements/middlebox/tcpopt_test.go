package middlebox

import (
	"bytes"
	"testing"

	"github.com/google/gopacket/layers"
)

func TestRemoveTCPOpt(t *testing.T) {
	s := defSpec()
	s.syn = true
	s.opts = []layers.TCPOption{mssOpt(1460), sackOKOpt(), tsOpt(), {OptionType: 1}, wsOpt(7)}
	in := s.build(t)
	cases := []struct {
		config  string
		gone    []layers.TCPOptionKind
		kept    []layers.TCPOptionKind
		removed string
	}{
		{"mss", []layers.TCPOptionKind{2}, []layers.TCPOptionKind{3, 4, 8}, "1"},
		{"wscale, sackok", []layers.TCPOptionKind{3, 4}, []layers.TCPOptionKind{2, 8}, "2"},
		{"timestamp 2", []layers.TCPOptionKind{2, 8}, []layers.TCPOptionKind{3, 4}, "2"},
		{"mptcp", nil, []layers.TCPOptionKind{2, 3, 4, 8}, "0"},
	}
	for _, tc := range cases {
		t.Run(tc.config, func(t *testing.T) {
			h, out := run(t, "RemoveTCPOpt", tc.config, 1, 0, in)
			if len(out[0]) != len(in) {
				t.Fatal("length changed")
			}
			_, tcp := decode(t, out[0])
			for _, k := range tc.gone {
				if opt(tcp, k) != nil {
					t.Errorf("option %d still present", k)
				}
			}
			for _, k := range tc.kept {
				if opt(tcp, k) == nil {
					t.Errorf("option %d removed", k)
				}
			}
			if h.Read("removed") != tc.removed {
				t.Errorf("removed %s, want %s", h.Read("removed"), tc.removed)
			}
		})
	}
	for _, bad := range []string{"", "nop", "bogus", "256"} {
		if _, err := buildErr(t, "RemoveTCPOpt", bad); err == nil {
			t.Errorf("RemoveTCPOpt(%s) accepted", bad)
		}
	}
}

func TestAddTCPOpt(t *testing.T) {
	syn := defSpec()
	syn.syn, syn.opts, syn.payload = true, []layers.TCPOption{mssOpt(1460)}, []byte("payload!")
	data := defSpec()
	data.ackf, data.payload = true, []byte("x")
	big := defSpec()
	big.syn, big.opts = true, []layers.TCPOption{tsOpt(), tsOpt(), tsOpt()} // 30 bytes -> 32
	cases := []struct {
		name, config string
		in           []byte
		grow         int
		kind         layers.TCPOptionKind
		data         []byte
	}{
		{"sackok", "sackok", syn.build(t), 4, 4, []byte{}},
		{"mptcp hex", "mptcp, 0081 0102030405060708", syn.build(t), 12, 30, []byte{0, 0x81, 1, 2, 3, 4, 5, 6, 7, 8}},
		{"click data", `200, \<414243>`, syn.build(t), 8, 200, []byte("ABC")},
		{"not syn", "sackok", data.build(t), 0, 0, nil},
		{"all segments", "sackok, SYN false", data.build(t), 4, 4, []byte{}},
		{"no room", "timestamp, 0000000100000002", big.build(t), 0, 0, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, out := run(t, "AddTCPOpt", tc.config, 1, 0, tc.in)
			if len(out[0])-len(tc.in) != tc.grow {
				t.Fatalf("grew %d bytes, want %d", len(out[0])-len(tc.in), tc.grow)
			}
			if tc.grow == 0 {
				if !bytes.Equal(out[0], tc.in) {
					t.Fatal("changed")
				}
				return
			}
			_, tcp := decode(t, out[0])
			_, orig := decode(t, tc.in)
			if d := opt(tcp, tc.kind); d == nil || !bytes.Equal(d, tc.data) {
				t.Fatalf("option %d = %x, want %x", tc.kind, d, tc.data)
			}
			if !bytes.Equal(tcp.Payload, orig.Payload) || tcp.Seq != orig.Seq {
				t.Fatalf("payload/seq changed")
			}
			if opt(orig, 2) != nil && !bytes.Equal(opt(tcp, 2), opt(orig, 2)) {
				t.Fatal("existing MSS option lost")
			}
			_ = h
		})
	}
	for _, bad := range []string{"", "nop, 01", `mss, \<zz>`, "30, " + string(bytes.Repeat([]byte("00"), 39))} {
		if _, err := buildErr(t, "AddTCPOpt", bad); err == nil {
			t.Errorf("AddTCPOpt(%s) accepted", bad)
		}
	}
}

// The headroom path moves the link header and the annotations with it.
func TestAddTCPOptHeadroomAnnotations(t *testing.T) {
	s := defSpec()
	s.syn = true
	in := append([]byte{0xaa, 0xbb, 0xcc, 0xdd}, s.build(t)...) // 4-byte "link header"
	h := newHarness(t, "AddTCPOpt", "sackok")
	p := h.Packet(in)
	p.SetMacAt(0)
	p.SetNetworkAt(4)
	p.SetTransportAt(24)
	h.PushPackets(0, p)
	q := h.Outs[0].Pkts[0]
	if q.NetworkOffset() != 4 || q.TransportOffset() != 24 || q.Len() != len(in)+4 ||
		!bytes.Equal(q.MacHeader()[:4], in[:4]) || !sumsValid(q.Network()) {
		t.Fatalf("net %d trans %d len %d: % x", q.NetworkOffset(), q.TransportOffset(), q.Len(), q.Data())
	}
}
