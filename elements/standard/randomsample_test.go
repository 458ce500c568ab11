package standard

import (
	"testing"

	"flowbox/elements/elemtest"
)

func TestRandomSample(t *testing.T) {
	hasDoc(t, "RandomSample")
	const n = 20000
	tests := []struct {
		config   string
		nout     int
		wantFrac float64
	}{
		{"1", 1, 1},
		{"0", 1, 0},
		{"0.25", 2, 0.25},
		{"SAMPLE 0.5", 1, 0.5},
		{"DROP 0.9", 2, 0.1},
		{"0.3, ACTIVE false", 1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.config, func(t *testing.T) {
			h := elemtest.New(t, "RandomSample", tc.config, 1, tc.nout)
			h.Outs[0].Discard = true
			if tc.nout > 1 {
				h.Outs[1].Discard = true
			}
			h.Push(0, numbered(n, 4)...)
			kept := h.Outs[0].Count
			frac := float64(kept) / n
			// Binomial standard deviation is at most 0.0036 for n=20000; allow 5 sigma.
			if frac < tc.wantFrac-0.018 || frac > tc.wantFrac+0.018 {
				t.Errorf("sampled %.4f, want %.2f", frac, tc.wantFrac)
			}
			rest := n - kept
			if tc.nout > 1 && h.Outs[1].Count != rest {
				t.Errorf("output 1 got %d, want %d", h.Outs[1].Count, rest)
			}
			if tc.nout == 1 && h.Read("drops") != itoa(rest) {
				t.Errorf("drops %s, want %d", h.Read("drops"), rest)
			}
		})
	}
	mustFail(t, "RandomSample", "", 1, 1, "P")
	mustFail(t, "RandomSample", "1.5", 1, 1, "P")
	mustFail(t, "RandomSample", "SAMPLE 0.5, DROP 0.5", 1, 1, "either")
	h := elemtest.New(t, "RandomSample", "0.2", 1, 1)
	if err := h.Write("drop_prob", "0.75"); err != nil || h.Read("sampling_prob") != "0.25" {
		t.Errorf("drop_prob write: %v, sampling_prob %s", err, h.Read("sampling_prob"))
	}
}
