package standard

import (
	"testing"

	"flowbox/elements/elemtest"
)

func TestTimedSource(t *testing.T) {
	hasDoc(t, "TimedSource")
	const ms = int64(1e6)
	tests := []struct {
		name   string
		config string
		fires  []int64
		want   int
		stops  int
	}{
		{"phase then one per interval", "10ms", []int64{0, 10 * ms, 20 * ms, 25 * ms, 30 * ms}, 3, 0},
		{"first fire only sets phase", "10ms", []int64{0}, 0, 0},
		{"limit and stop", "10ms, LIMIT 2, STOP true", []int64{0, 10 * ms, 20 * ms, 30 * ms, 40 * ms}, 2, 1},
		{"inactive", "10ms, ACTIVE false", []int64{0, 10 * ms, 20 * ms}, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := elemtest.New(t, "TimedSource", tc.config, 0, 1)
			base := int64(1e12)
			for _, at := range tc.fires {
				h.FireTimers(base + at)
			}
			if n := len(h.Outs[0].Pkts); n != tc.want {
				t.Fatalf("sent %d, want %d", n, tc.want)
			}
			if h.Router.Stoppers != tc.stops {
				t.Errorf("stoppers %d, want %d", h.Router.Stoppers, tc.stops)
			}
			if tc.want > 0 && string(h.Outs[0].Pkts[0].Data()) != clickDefaultData {
				t.Errorf("data %q", h.Outs[0].Pkts[0].Data())
			}
		})
	}
	mustFail(t, "TimedSource", "0s", 0, 1, "INTERVAL")
}
