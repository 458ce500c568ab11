package standard

import (
	"testing"

	"flowbox/elements/elemtest"
)

func TestHashSwitch(t *testing.T) {
	hasDoc(t, "HashSwitch")
	tests := []struct {
		name  string
		nout  int
		key   []byte
		wantO int // -1: dropped as too short
	}{
		// byte sum 0x0a+0x01 = 11; n=2,4,8 fold (d ^ d>>4) & (n-1)
		{"two outputs", 2, []byte{10, 1}, (11 ^ 11>>4) & 1},
		{"four outputs", 4, []byte{10, 1}, (11 ^ 11>>4) & 3},
		{"three outputs use mod", 3, []byte{10, 1}, 11 % 3},
		{"large sum", 5, []byte{200, 250}, 450 % 5},
		{"too short", 3, []byte{10}, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := elemtest.New(t, "HashSwitch", "2, 2", 1, tc.nout)
			frame := append([]byte{0xaa, 0xbb}, tc.key...)
			h.Push(0, frame, frame)
			for i := 0; i < tc.nout; i++ {
				want := 0
				if i == tc.wantO {
					want = 2
				}
				if len(h.Outs[i].Pkts) != want {
					t.Errorf("output %d got %d, want %d", i, len(h.Outs[i].Pkts), want)
				}
			}
			if tc.wantO < 0 && h.Read("drops") != "2" {
				t.Errorf("drops %s", h.Read("drops"))
			}
		})
	}
	mustFail(t, "HashSwitch", "0", 1, 2, "LENGTH")
	mustFail(t, "HashSwitch", "0, 0", 1, 2, "LENGTH")
}
