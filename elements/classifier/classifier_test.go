package classifier

import (
	"reflect"
	"strings"
	"testing"

	"flowbox/appliance/packet"
	"flowbox/elements/elemtest"
)

func TestClassifierPatterns(t *testing.T) {
	h := elemtest.New(t, "Classifier", "12/0806 20/0001, 12/0806 !20/0001, 12/08??%ff00 23/11, 30/0a0000?2%ffff00ff, -", 1, 5)
	arpReq := make([]byte, 60)
	copy(arpReq[12:], []byte{0x08, 0x06})
	arpReq[21] = 1
	arpReply := append([]byte(nil), arpReq...)
	arpReply[21] = 2
	udp := frame(17, hostA, hostB, 1, 2, 64)
	tcpToB := frame(6, hostA, [4]byte{10, 0, 7, 2}, 1, 2, 64)
	other := frame(6, hostA, [4]byte{11, 0, 0, 2}, 1, 2, 64)
	short := []byte{0x08, 0x06}
	h.Push(0, arpReq, arpReply, udp, tcpToB, other, short)
	counts := make([]int, len(h.Outs))
	for i, o := range h.Outs {
		counts[i] = len(o.Pkts)
	}
	if want := []int{1, 1, 1, 1, 2}; !reflect.DeepEqual(counts, want) {
		t.Errorf("counts per output %v, want %v", counts, want)
	}
	if got := h.Outs[4].Pkts[1].Len(); got != 2 {
		t.Errorf("short packet went elsewhere (output 4 got len %d)", got)
	}
}

func TestClassifierShortNegation(t *testing.T) {
	// A clause reading past the end is false, so its negation is true.
	h := elemtest.New(t, "Classifier", "!40/ff, 40/ff", 1, 2)
	h.Push(0, make([]byte, 20), append(make([]byte, 40), 0xff))
	if len(h.Outs[0].Pkts) != 1 || h.Outs[0].Pkts[0].Len() != 20 || len(h.Outs[1].Pkts) != 1 {
		t.Errorf("outputs %d/%d", len(h.Outs[0].Pkts), len(h.Outs[1].Pkts))
	}
}

func TestClassifierUnmatchedDropped(t *testing.T) {
	h := elemtest.New(t, "Classifier", "0/45", 1, 1)
	h.Push(0, []byte{0x46}, []byte{0x45})
	if len(h.Outs[0].Pkts) != 1 || h.Elem.Core().Drops != 1 {
		t.Errorf("passed %d dropped %d", len(h.Outs[0].Pkts), h.Elem.Core().Drops)
	}
}

func TestClassifierErrors(t *testing.T) {
	cases := []struct{ config, want string }{
		{"12/080", "pattern 0: col 1: clause \"12/080\": expected an even number of hex digits"},
		{"12/0800 x/01", "pattern 0: col 9: clause \"x/01\": expected decimal offset, got \"x\""},
		{"12/0800 0801", "col 9: clause \"0801\": expected OFFSET/HEXVALUE"},
		{"ab/01", "expected decimal offset"},
		{"1/0g", "bad hex digit"},
		{"1/0000%ff", "mask \"ff\" must be as many plain hex digits as the value"},
	}
	for _, c := range cases {
		_, err := elemtest.Build(t, "Classifier", c.config, elemtest.Options{Inputs: 1, Outputs: 1})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.config, err, c.want)
		}
	}
}

func TestClassifierProgramAndLongValues(t *testing.T) {
	h := elemtest.New(t, "Classifier", "0/020202020202 12/0800, -", 1, 2)
	if prog := h.Read("program"); !strings.Contains(prog, "data[0:4] == 0x2020202") || !strings.Contains(prog, "data[4:2] == 0x202") {
		t.Errorf("program:\n%s", prog)
	}
	h.Push(0, frame(17, hostA, hostB, 1, 2, 64))
	if len(h.Outs[0].Pkts) != 1 {
		t.Errorf("6-byte match failed")
	}
}

func TestClassifierAllocatesNothing(t *testing.T) {
	h := elemtest.New(t, "Classifier", "12/0806, 12/0800 23/11, -", 1, 3)
	for _, o := range h.Outs {
		o.Discard = true
	}
	tmpl := h.Packet(frame(17, hostA, hostB, 1, 2, 64))
	b := new(packet.Batch)
	c := h.Elem.(*Classifier)
	allocs := testing.AllocsPerRun(200, func() {
		h.Ctx.Pool.CloneN(tmpl, b, packet.MaxBatch)
		c.Push(h.Ctx, 0, b)
	})
	if allocs != 0 || h.Outs[1].Count == 0 {
		t.Errorf("allocs %v per batch, %d packets on output 1", allocs, h.Outs[1].Count)
	}
}
