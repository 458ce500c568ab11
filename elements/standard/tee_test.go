package standard

import (
	"bytes"
	"testing"

	"flowbox/elements/elemtest"
)

func TestTee(t *testing.T) {
	hasDoc(t, "Tee")
	for _, nout := range []int{1, 2, 3} {
		h := elemtest.New(t, "Tee", "", 1, nout)
		h.Push(0, numbered(70, 20)...)
		for i := 0; i < nout; i++ {
			got := firstBytes(h.Outs[i].Pkts)
			if len(got) != 70 || got[0] != 0 || got[69] != 69 {
				t.Errorf("Tee %d outputs: output %d got %d packets %v", nout, i, len(got), got)
			}
		}
	}
	mustFail(t, "Tee", "3", 1, 2, "N")
}

func TestTeeCopyOnWrite(t *testing.T) {
	h := elemtest.New(t, "Tee", "2", 1, 2)
	orig := []byte("hello, world")
	h.Push(0, orig)
	a, b := h.Outs[0].Pkts[0], h.Outs[1].Pkts[0]
	if !a.Shared() || !b.Shared() {
		t.Fatal("Tee copies should share data until written")
	}
	a.Anno.Paint = 7
	copy(b.Writable(h.Ctx.Pool), "HELLO")
	if !bytes.Equal(a.Data(), orig) {
		t.Errorf("writing the clone changed the original: %q", a.Data())
	}
	if string(b.Data()) != "HELLO, world" || b.Anno.Paint == 7 {
		t.Errorf("clone data %q paint %d", b.Data(), b.Anno.Paint)
	}
	copy(a.Writable(h.Ctx.Pool), "J")
	if string(b.Data()) != "HELLO, world" {
		t.Errorf("writing the original changed the clone: %q", b.Data())
	}
}
