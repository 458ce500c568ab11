package standard

import (
	"testing"

	"flowbox/elements/elemtest"
)

func TestUnqueue(t *testing.T) {
	hasDoc(t, "Unqueue")
	tests := []struct {
		config string
		queued int
		want   []int // packets pushed per run
	}{
		{"", 3, []int{1, 1, 1, 0}},
		{"BURST 2", 3, []int{2, 1, 0}},
		{"BURST 100", 150, []int{100, 50, 0}},
		{"LIMIT 3, BURST 2", 10, []int{2, 1, 0}},
		{"ACTIVE false", 3, []int{0}},
	}
	for _, tc := range tests {
		t.Run(tc.config, func(t *testing.T) {
			h := elemtest.New(t, "Unqueue", tc.config, 1, 1)
			if !h.Elem.Core().IsTask() {
				t.Fatal("Unqueue is not a task")
			}
			fill(h, 0, tc.queued)
			for i, want := range tc.want {
				before := len(h.Outs[0].Pkts)
				worked := h.RunTask()
				if got := len(h.Outs[0].Pkts) - before; got != want || worked != (want > 0) {
					t.Fatalf("run %d pushed %d (worked %v), want %d", i, got, worked, want)
				}
			}
			if out := firstBytes(h.Outs[0].Pkts); len(out) > 1 && out[1] != 1 {
				t.Errorf("order %v", out)
			}
		})
	}
	h := elemtest.New(t, "Unqueue", "LIMIT 1", 1, 1)
	fill(h, 0, 3)
	h.RunTask()
	_ = h.Write("reset", "")
	h.RunTask()
	if h.Read("count") != "1" || len(h.Outs[0].Pkts) != 2 {
		t.Errorf("reset should restart toward LIMIT: count %s, pushed %d", h.Read("count"), len(h.Outs[0].Pkts))
	}
}
