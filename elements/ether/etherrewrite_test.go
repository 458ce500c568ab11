package ether

import (
	"bytes"
	"testing"

	"flowbox/appliance/packet"
	"flowbox/elements/elemtest"
)

func TestEtherRewrite(t *testing.T) {
	cases := []struct {
		name, config string
		in, want     []byte
	}{
		{name: "rewrite", config: "00:11:22:33:44:55, 66:77:88:99:aa:bb", in: frame([6]byte{9}, [6]byte{8}, 3), want: frame(macB, macA, 3)},
		{name: "keywords", config: "DST 00:11:22:33:44:55, SRC 66:77:88:99:aa:bb", in: frame(macA, macA, 1), want: frame(macA, macB, 1)},
		{name: "runt", config: "00:11:22:33:44:55, 66:77:88:99:aa:bb", in: []byte{1, 2, 3}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := elemtest.New(t, "EtherRewrite", tc.config, 1, 1)
			h.Push(0, tc.in)
			if tc.want == nil {
				if h.Outs[0].Count != 0 || h.Read("drops") != "1" {
					t.Fatal("runt not dropped")
				}
				return
			}
			if got := h.Outs[0].Pkts[0].Data(); !bytes.Equal(got, tc.want) {
				t.Fatalf("got % x want % x", got, tc.want)
			}
		})
	}
}

func TestEtherRewriteHandlers(t *testing.T) {
	h := elemtest.New(t, "EtherRewrite", "00:11:22:33:44:55, 66:77:88:99:aa:bb", 1, 1)
	if err := h.Write("dst", "0:0:0:0:0:7"); err != nil || h.Read("dst") != "00:00:00:00:00:07" || h.Read("src") != "00:11:22:33:44:55" {
		t.Fatalf("handlers: %v %s %s", err, h.Read("dst"), h.Read("src"))
	}
	h.Push(0, frame(macB, macB, 0))
	if got := h.Outs[0].Pkts[0].Data(); !bytes.Equal(got, frame([6]byte{5: 7}, macA, 0)) {
		t.Fatalf("got % x", got)
	}
}

func TestEtherRewriteAllocs(t *testing.T) {
	h := elemtest.New(t, "EtherRewrite", "00:11:22:33:44:55, 66:77:88:99:aa:bb", 1, 1)
	assertNoAllocs(t, h, frame(macA, macB, 50))
}

func BenchmarkEtherRewrite(b *testing.B) {
	h := elemtest.New(b, "EtherRewrite", "00:11:22:33:44:55, 66:77:88:99:aa:bb", 1, 1)
	r := h.Elem.(*EtherRewrite)
	var batch packet.Batch
	for i := 0; i < packet.MaxBatch; i++ {
		batch.Append(h.Packet(frame(macA, macB, 50)))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += packet.MaxBatch {
		r.Process(h.Ctx, &batch)
	}
}
