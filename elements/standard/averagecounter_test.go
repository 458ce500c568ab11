package standard

import (
	"testing"

	"flowbox/elements/elemtest"
)

func TestAverageCounter(t *testing.T) {
	hasDoc(t, "AverageCounter")
	const sec = int64(1e9)
	tests := []struct {
		name      string
		config    string
		at        []int64 // batch times of 10 packets of 50 bytes
		wantCount string
		wantRate  string
	}{
		{"one batch has no duration", "", []int64{0}, "10", "0"},
		{"strict average", "", []int64{0, sec, 2 * sec}, "30", "15"},
		{"ignore warm-up", "IGNORE 1", []int64{0, sec / 2, sec, 2 * sec, 3 * sec}, "30", "15"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := elemtest.New(t, "AverageCounter", tc.config, 1, 1)
			for _, at := range tc.at {
				h.Ctx.Now = 5*sec + at
				h.Push(0, numbered(10, 50)...)
			}
			if len(h.Outs[0].Pkts) != 10*len(tc.at) {
				t.Errorf("passed %d packets", len(h.Outs[0].Pkts))
			}
			if h.Read("count") != tc.wantCount || h.Read("rate") != tc.wantRate {
				t.Errorf("count %s rate %s, want %s %s", h.Read("count"), h.Read("rate"), tc.wantCount, tc.wantRate)
			}
		})
	}
	h := elemtest.New(t, "AverageCounter", "", 1, 1)
	h.Ctx.Now = sec
	h.Push(0, numbered(4, 50)...)
	h.Ctx.Now = 3 * sec
	h.Push(0, numbered(4, 50)...)
	if h.Read("byte_rate") != "200" || h.Read("bit_rate") != "1600" {
		t.Errorf("byte_rate %s bit_rate %s", h.Read("byte_rate"), h.Read("bit_rate"))
	}
	_ = h.Write("reset", "")
	if h.Read("count") != "0" || h.Read("rate") != "0" {
		t.Error("reset left state")
	}
}
