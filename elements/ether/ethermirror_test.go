package ether

import (
	"bytes"
	"testing"

	"flowbox/elements/elemtest"
)

func TestEtherMirror(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
		want []byte // nil: dropped
	}{
		{name: "frame", in: frame(macA, macB, 4), want: frame(macB, macA, 4)},
		{name: "header only", in: frame(macA, macB, 0), want: frame(macB, macA, 0)},
		{name: "runt", in: frame(macA, macB, 0)[:13]},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := elemtest.New(t, "EtherMirror", "", 1, 1)
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

func TestEtherMirrorClone(t *testing.T) {
	h := elemtest.New(t, "EtherMirror", "", 1, 1)
	orig := h.Packet(frame(macA, macB, 2))
	h.PushPackets(0, h.Ctx.Pool.Clone(orig))
	if !bytes.Equal(orig.Data(), frame(macA, macB, 2)) {
		t.Fatal("mirroring a clone changed the original")
	}
}
