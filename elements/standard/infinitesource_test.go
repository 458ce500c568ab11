package standard

import (
	"bytes"
	"strings"
	"testing"

	"flowbox/elements/elemtest"
)

func TestInfiniteSource(t *testing.T) {
	hasDoc(t, "InfiniteSource")
	tests := []struct {
		name       string
		config     string
		runs       int
		wantCount  int
		wantLen    int
		wantRuns   int // runs that report work
		wantStops  int
		wantWrites []string
	}{
		{"default burst 1", "", 3, 3, len(clickDefaultData), 3, 0, nil},
		{"burst beyond a batch", "BURST 100", 2, 200, len(clickDefaultData), 2, 0, nil},
		{"limit cuts burst", "LIMIT 5, BURST 2", 4, 5, len(clickDefaultData), 3, 0, nil},
		{"stop once", "LIMIT 3, BURST 2, STOP true", 5, 3, len(clickDefaultData), 2, 1, nil},
		{"end call", "LIMIT 1, END_CALL c.reset now", 3, 1, len(clickDefaultData), 1, 0, []string{"c.reset now"}},
		{"inactive", "ACTIVE false", 3, 0, 0, 0, 0, nil},
		{"length pads by repeating", `"ab", LENGTH 5`, 1, 1, 5, 1, 0, nil},
		{"limit zero", "LIMIT 0", 2, 0, 0, 0, 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := elemtest.New(t, "InfiniteSource", tc.config, 0, 1)
			worked := 0
			for i := 0; i < tc.runs; i++ {
				if h.RunTask() {
					worked++
				}
			}
			out := h.Outs[0]
			if len(out.Pkts) != tc.wantCount || worked != tc.wantRuns {
				t.Fatalf("got %d packets in %d working runs, want %d in %d", len(out.Pkts), worked, tc.wantCount, tc.wantRuns)
			}
			if tc.wantCount > 0 && out.Pkts[0].Len() != tc.wantLen {
				t.Errorf("packet length %d, want %d", out.Pkts[0].Len(), tc.wantLen)
			}
			if h.Router.Stoppers != tc.wantStops {
				t.Errorf("StopperDone called %d times, want %d", h.Router.Stoppers, tc.wantStops)
			}
			if len(h.Router.Writes) != len(tc.wantWrites) || (len(tc.wantWrites) > 0 && h.Router.Writes[0] != tc.wantWrites[0]) {
				t.Errorf("handler calls %q, want %q", h.Router.Writes, tc.wantWrites)
			}
			if got := h.Read("count"); got != itoa(tc.wantCount) {
				t.Errorf("count handler %s, want %d", got, tc.wantCount)
			}
		})
	}
}

func itoa(n int) string { return string(appendPadded(nil, n, 0)) }

func TestInfiniteSourceData(t *testing.T) {
	frame := udp64()
	h := elemtest.New(t, "InfiniteSource", hexConfig(frame)+", BURST 2", 0, 1)
	h.Ctx.Now = 12345
	h.RunTask()
	for _, p := range h.Outs[0].Pkts {
		if !bytes.Equal(p.Data(), frame) {
			t.Fatalf("data %x, want %x", p.Data(), frame)
		}
		if p.Anno.Timestamp != 12345 {
			t.Errorf("timestamp %d, want 12345", p.Anno.Timestamp)
		}
	}
	// Clones share one buffer; writing one must not change the other.
	a, b := h.Outs[0].Pkts[0], h.Outs[0].Pkts[1]
	a.Writable(h.Ctx.Pool)[0] = 0xff
	if b.Data()[0] == 0xff {
		t.Fatal("writing one clone changed its sibling")
	}
	if err := h.Write("data", "xyz"); err != nil {
		t.Fatal(err)
	}
	h.RunTask()
	if got := string(h.Outs[0].Pkts[2].Data()); got != "xyz" {
		t.Errorf("after data write got %q", got)
	}
}

func TestInfiniteSourceNoTimestamp(t *testing.T) {
	h := elemtest.New(t, "InfiniteSource", "TIMESTAMP false", 0, 1)
	h.Ctx.Now = 99
	h.RunTask()
	if ts := h.Outs[0].Pkts[0].Anno.Timestamp; ts != 0 {
		t.Errorf("timestamp %d with TIMESTAMP false", ts)
	}
}

func TestInfiniteSourceHandlers(t *testing.T) {
	h := elemtest.New(t, "InfiniteSource", "LIMIT 2, STOP true", 0, 1)
	h.RunTask()
	h.RunTask()
	h.RunTask()
	if err := h.Write("limit", "4"); err != nil {
		t.Fatal(err)
	}
	h.RunTask()
	h.RunTask()
	h.RunTask()
	if n := len(h.Outs[0].Pkts); n != 4 {
		t.Errorf("%d packets after raising limit, want 4", n)
	}
	if h.Router.Stoppers != 1 {
		t.Errorf("StopperDone %d times, want exactly 1", h.Router.Stoppers)
	}
	if err := h.Write("active", "false"); err != nil {
		t.Fatal(err)
	}
	_ = h.Write("reset", "")
	if h.RunTask() || h.Read("count") != "0" {
		t.Error("inactive source ran or reset did not zero count")
	}
	if err := h.Write("burst", "0"); err == nil {
		t.Error("burst 0 accepted")
	}
}

func TestInfiniteSourceNonFullCheck(t *testing.T) {
	h := elemtest.New(t, "InfiniteSource", "BURST 4", 0, 1)
	full := true
	h.Elem.(*InfiniteSource).SetNonFullCheck(func() bool { return !full })
	if h.RunTask() || len(h.Outs[0].Pkts) != 0 {
		t.Fatal("emitted while downstream full")
	}
	full = false
	if !h.RunTask() || len(h.Outs[0].Pkts) != 4 {
		t.Fatalf("emitted %d once not full, want 4", len(h.Outs[0].Pkts))
	}
}

func TestInfiniteSourcePull(t *testing.T) {
	h, err := elemtest.Build(t, "InfiniteSource", "LIMIT 10", elemtest.Options{Outputs: 1, PullOutputs: true})
	if err != nil {
		t.Fatal(err)
	}
	if h.Elem.Core().IsTask() {
		t.Error("pull-context source scheduled a task")
	}
	if got := len(h.Pull(0, 8)); got != 8 {
		t.Errorf("first pull %d, want 8", got)
	}
	if got := len(h.Pull(0, 8)); got != 2 {
		t.Errorf("second pull %d, want the 2 left of LIMIT", got)
	}
}

func TestInfiniteSourceBadConfig(t *testing.T) {
	mustFail(t, "InfiniteSource", "BURST 0", 0, 1, "BURST")
	mustFail(t, "InfiniteSource", "LENGTH 5000", 0, 1, "DATA")
}

// sourceToDiscard wires a real Discard after an InfiniteSource.
func sourceToDiscard(tb testing.TB, config string) (*elemtest.Harness, *Discard) {
	src := elemtest.New(tb, "InfiniteSource", config, 0, 1)
	sink := elemtest.New(tb, "Discard", "", 1, 0)
	d := sink.Elem.(*Discard)
	src.Elem.Core().Output(0).Connect(d, 0)
	return src, d
}

func TestInfiniteSourceDiscardZeroAllocs(t *testing.T) {
	src, d := sourceToDiscard(t, hexConfig(udp64())+", BURST 100, TIMESTAMP false")
	allocs := testing.AllocsPerRun(1000, func() { src.RunTask() })
	if allocs != 0 {
		t.Errorf("%.1f allocations per RunTask (100 packets), want 0", allocs)
	}
	if d.count != 1001*100 {
		t.Errorf("Discard counted %d, want %d", d.count, 1001*100)
	}
}

func BenchmarkInfiniteSourceDiscard(b *testing.B) {
	const burst = 32
	src, _ := sourceToDiscard(b, hexConfig(udp64())+", BURST 32, TIMESTAMP false")
	src.RunTask() // warm the pool
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		src.RunTask()
	}
	b.StopTimer()
	nsPerPkt := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / burst
	b.ReportMetric(nsPerPkt, "ns/pkt")
	b.ReportMetric(1e3/nsPerPkt, "Mpps")
}

// END_CALL naming a missing handler is a configuration error.
func TestInfiniteSourceEndCallChecked(t *testing.T) {
	_, err := buildRouter(t, "InfiniteSource(LIMIT 1, END_CALL nosuch.x) -> Discard")
	if err == nil || !strings.Contains(err.Error(), "END_CALL: No element named 'nosuch'") {
		t.Errorf("error %v, want END_CALL: No element named 'nosuch'", err)
	}
	if _, err := buildRouter(t, "InfiniteSource(LIMIT 1, END_CALL stop) -> c :: Counter -> Discard"); err != nil {
		t.Error(err)
	}
}
