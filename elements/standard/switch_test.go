package standard

import (
	"testing"

	"flowbox/elements/elemtest"
)

func TestSwitch(t *testing.T) {
	hasDoc(t, "Switch")
	tests := []struct {
		config   string
		write    string
		wantOut  int // -1: dropped
		wantRead string
	}{
		{"", "", 0, "0"},
		{"1", "", 1, "1"},
		{"-1", "", -1, "-1"},
		{"5", "", -1, "-1"},
		{"0", "2", 2, "2"},
		{"0", "-3", -1, "-1"},
	}
	for _, tc := range tests {
		t.Run(tc.config+"/"+tc.write, func(t *testing.T) {
			h := elemtest.New(t, "Switch", tc.config, 1, 3)
			if tc.write != "" {
				if err := h.Write("switch", tc.write); err != nil {
					t.Fatal(err)
				}
			}
			h.Push(0, numbered(4, 10)...)
			for i := 0; i < 3; i++ {
				want := 0
				if i == tc.wantOut {
					want = 4
				}
				if len(h.Outs[i].Pkts) != want {
					t.Errorf("output %d got %d, want %d", i, len(h.Outs[i].Pkts), want)
				}
			}
			if h.Read("switch") != tc.wantRead {
				t.Errorf("switch reads %s", h.Read("switch"))
			}
			if wantDrops := map[bool]string{true: "4", false: "0"}[tc.wantOut < 0]; h.Read("drops") != wantDrops {
				t.Errorf("drops %s, want %s", h.Read("drops"), wantDrops)
			}
		})
	}
	h := elemtest.New(t, "Switch", "", 1, 2)
	if h.Write("switch", "x") == nil {
		t.Error("non-numeric switch accepted")
	}
}
