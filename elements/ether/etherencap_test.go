package ether

import (
	"bytes"
	"testing"

	"flowbox/appliance/packet"
	"flowbox/elements/elemtest"
)

func TestEtherEncap(t *testing.T) {
	payload := []byte{0x45, 0, 0, 20}
	cases := []struct {
		config string
		want   []byte
	}{
		{config: "0x0800, 00:11:22:33:44:55, 66:77:88:99:aa:bb",
			want: []byte{0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x08, 0x00}},
		{config: "2054, 0-1-2-3-4-5, ff:ff:ff:ff:ff:ff",
			want: []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 1, 2, 3, 4, 5, 0x08, 0x06}},
		{config: "ETHERTYPE 0x86dd, DST 1:1:1:1:1:1, SRC 2:2:2:2:2:2",
			want: []byte{1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 0x86, 0xdd}},
	}
	for _, tc := range cases {
		t.Run(tc.config, func(t *testing.T) {
			h := elemtest.New(t, "EtherEncap", tc.config, 1, 1)
			p := h.Packet(payload)
			room := p.Headroom()
			h.PushPackets(0, p)
			out := h.Outs[0].Pkts[0]
			if !bytes.Equal(out.Data(), append(append([]byte(nil), tc.want...), payload...)) {
				t.Fatalf("got % x", out.Data())
			}
			if out.Headroom() != room-14 || out.MacHeader() == nil || out.Anno.Mac != int32(out.Offset()) {
				t.Fatal("header not prepended in the headroom or MAC annotation unset")
			}
		})
	}
}

func TestEtherEncapHandlers(t *testing.T) {
	h := elemtest.New(t, "EtherEncap", "0x0800, 00:11:22:33:44:55, 66:77:88:99:aa:bb", 1, 1)
	if h.Read("ethertype") != "2048" || h.Read("src") != "00:11:22:33:44:55" || h.Read("dst") != "66:77:88:99:aa:bb" {
		t.Fatalf("reads: %s %s %s", h.Read("ethertype"), h.Read("src"), h.Read("dst"))
	}
	for _, w := range [][2]string{{"ethertype", "0x0806"}, {"src", "0:0:0:0:0:1"}, {"dst", "0:0:0:0:0:2"}} {
		if err := h.Write(w[0], w[1]); err != nil {
			t.Fatal(err)
		}
	}
	h.Push(0, []byte{9})
	want := []byte{0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1, 0x08, 0x06, 9}
	if got := h.Outs[0].Pkts[0].Data(); !bytes.Equal(got, want) {
		t.Fatalf("after handler writes got % x", got)
	}
	if h.Write("src", "zz") == nil || h.Write("ethertype", "0x10000") == nil {
		t.Fatal("bad handler values accepted")
	}
	for _, cfg := range []string{"0x0800, 00:11:22:33:44:55", "0x0800, 00:11:22:33:44, 1:1:1:1:1:1"} {
		if _, err := elemtest.Build(t, "EtherEncap", cfg, elemtest.Options{Inputs: 1, Outputs: 1}); err == nil {
			t.Errorf("config %q accepted", cfg)
		}
	}
}

func TestEtherEncapNoHeadroom(t *testing.T) {
	h := elemtest.New(t, "EtherEncap", "0x0800, 00:11:22:33:44:55, 66:77:88:99:aa:bb", 1, 1)
	p := h.Packet([]byte{1})
	for p.Push(h.Ctx.Pool, 1) {
	}
	h.PushPackets(0, p)
	if h.Outs[0].Count != 0 || h.Read("drops") != "1" {
		t.Fatal("packet without headroom not dropped")
	}
}

func TestEtherEncapAllocs(t *testing.T) {
	h := elemtest.New(t, "EtherEncap", "0x0800, 00:11:22:33:44:55, 66:77:88:99:aa:bb", 1, 1)
	assertNoAllocs(t, h, make([]byte, 50))
}

func BenchmarkEtherEncap(b *testing.B) {
	h := elemtest.New(b, "EtherEncap", "0x0800, 00:11:22:33:44:55, 66:77:88:99:aa:bb", 1, 1)
	e := h.Elem.(*EtherEncap)
	var batch packet.Batch
	for i := 0; i < packet.MaxBatch; i++ {
		batch.Append(h.Packet(make([]byte, 50)))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += packet.MaxBatch {
		e.Process(h.Ctx, &batch)
		for _, p := range batch.Packets() {
			p.Pull(14) // undo, so the headroom never runs out
		}
	}
}
