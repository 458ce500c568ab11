package standard

import (
	"testing"

	"flowbox/elements/elemtest"
)

func TestDiscardPush(t *testing.T) {
	hasDoc(t, "Discard")
	h := elemtest.New(t, "Discard", "", 1, 0)
	if h.Elem.Core().IsTask() {
		t.Error("push Discard scheduled a task")
	}
	h.Push(0, numbered(70, 60)...)
	if h.Read("count") != "70" {
		t.Errorf("count %s, want 70", h.Read("count"))
	}
	_ = h.Write("reset_counts", "")
	if h.Read("count") != "0" {
		t.Error("reset_counts did not zero count")
	}
}

func TestDiscardPull(t *testing.T) {
	tests := []struct {
		config string
		queued int
		want   []int // packets freed per run
	}{
		{"", 3, []int{1, 1, 1, 0}},
		{"BURST 2", 3, []int{2, 1, 0}},
		{"BURST 100", 150, []int{100, 50}},
		{"ACTIVE false, BURST 5", 3, []int{0}},
	}
	for _, tc := range tests {
		t.Run(tc.config, func(t *testing.T) {
			h, err := elemtest.Build(t, "Discard", tc.config, elemtest.Options{Inputs: 1, PullInputs: true})
			if err != nil {
				t.Fatal(err)
			}
			if !h.Elem.Core().IsTask() {
				t.Fatal("pull Discard is not a task")
			}
			for _, f := range numbered(tc.queued, 60) {
				h.Srcs[0].Queue = append(h.Srcs[0].Queue, h.Packet(f))
			}
			d := h.Elem.(*Discard)
			for i, want := range tc.want {
				before := d.count
				worked := h.RunTask()
				if got := int(d.count - before); got != want || worked != (want > 0) {
					t.Fatalf("run %d freed %d (worked %v), want %d", i, got, worked, want)
				}
			}
		})
	}
}
