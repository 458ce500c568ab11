package standard

import (
	"testing"

	"flowbox/elements/elemtest"
)

func TestPaint(t *testing.T) {
	hasDoc(t, "Paint")
	tests := []struct {
		config    string
		wantPaint uint8
		wantUser  uint64
	}{
		{"3", 3, 0},
		{"255", 255, 0},
		{"7, USER2", 0, 7},
		{"COLOR 9, ANNO PAINT", 9, 0},
	}
	for _, tc := range tests {
		t.Run(tc.config, func(t *testing.T) {
			h := elemtest.New(t, "Paint", tc.config, 1, 1)
			h.Push(0, numbered(3, 10)...)
			for _, p := range h.Outs[0].Pkts {
				if p.Anno.Paint != tc.wantPaint || p.Anno.User[2] != tc.wantUser {
					t.Fatalf("paint %d user2 %d", p.Anno.Paint, p.Anno.User[2])
				}
			}
		})
	}
	mustFail(t, "Paint", "256", 1, 1, "COLOR")
	mustFail(t, "Paint", "1, USER9", 1, 1, "ANNO")
	h := elemtest.New(t, "Paint", "1", 1, 1)
	if err := h.Write("color", "42"); err != nil || h.Read("color") != "42" {
		t.Errorf("color handler: %v %s", err, h.Read("color"))
	}
}
