package standard

import (
	"testing"

	"flowbox/elements/elemtest"
)

func TestRatedSource(t *testing.T) {
	hasDoc(t, "RatedSource")
	const sec = int64(1e9)
	tests := []struct {
		name   string
		config string
		times  []int64 // ctx.Now of each run, from 1s
		want   []int   // packets emitted by each run
		stops  int
	}{
		{"10 pps default", "", []int64{0, sec / 20, sec / 10, sec / 10, sec / 2}, []int{1, 0, 1, 0, 4}, 0},
		{"catch-up within a batch", "RATE 1000", []int64{0, sec / 100}, []int{1, 10}, 0},
		{"backlog beyond a batch is forgiven", "RATE 1000", []int64{0, 10 * sec, 10*sec + sec/1000}, []int{1, 1, 1}, 0},
		{"limit and stop", "RATE 100, LIMIT 3, STOP true", []int64{0, sec / 50, sec}, []int{1, 2, 0}, 1},
		{"inactive", "ACTIVE false", []int64{0, sec}, []int{0, 0}, 0},
		{"bandwidth sets rate", `"abcd", BANDWIDTH 40Bps`, []int64{0, sec}, []int{1, 10}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := elemtest.New(t, "RatedSource", tc.config, 0, 1)
			for i, at := range tc.times {
				h.Ctx.Now = sec + at
				before := len(h.Outs[0].Pkts)
				h.RunTask()
				if got := len(h.Outs[0].Pkts) - before; got != tc.want[i] {
					t.Fatalf("run %d at +%dns emitted %d, want %d", i, at, got, tc.want[i])
				}
			}
			if h.Router.Stoppers != tc.stops {
				t.Errorf("stoppers %d, want %d", h.Router.Stoppers, tc.stops)
			}
		})
	}
}

func TestRatedSourceHandlers(t *testing.T) {
	h := elemtest.New(t, "RatedSource", "RATE 10", 0, 1)
	if err := h.Write("rate", "1000"); err != nil {
		t.Fatal(err)
	}
	if h.Read("rate") != "1000" {
		t.Errorf("rate reads %s", h.Read("rate"))
	}
	if h.Write("rate", "0") == nil {
		t.Error("rate 0 accepted")
	}
	mustFail(t, "RatedSource", "RATE -1", 0, 1, "RATE")
}
