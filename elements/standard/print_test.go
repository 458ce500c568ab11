package standard

import (
	"bytes"
	"testing"

	"flowbox/elements/elemtest"
)

func TestPrint(t *testing.T) {
	hasDoc(t, "Print")
	data := []byte("\x45\x00\x00\x54\x00\x00\x40\x00\x40\x01ABCDEFGHIJKLMNOPQRSTUVWXYZ")
	tests := []struct {
		name, config string
		ts           int64
		want         string
	}{
		{"default hex 24 bytes", "ok", 0, "ok:   36 | 45000054 00004000 40014142 43444546 4748494a 4b4c4d4e\n"},
		{"maxlength", "ok, 6", 0, "ok:   36 | 45000054 0000\n"},
		{"no label", "MAXLENGTH 4", 0, "  36 | 45000054\n"},
		{"no contents", "x, CONTENTS NONE", 0, "x:   36\n"},
		{"ascii", "a, 12, CONTENTS ASCII", 0, "a:   36 | E..T..@. @.AB\n"},
		{"timestamp", "t, 2, TIMESTAMP true", 1500000000123456789, "t: 1500000000.123456789:   36 | 4500\n"},
		{"all bytes", "all, -1, CONTENTS ASCII", 0, "all:   36 | E..T..@. @.ABCDEF GHIJKLMN OPQRSTUV WXYZ\n"},
		{"inactive", "off, ACTIVE false", 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := elemtest.New(t, "Print", tc.config, 1, 1)
			var out bytes.Buffer
			h.Elem.(*Print).SetWriter(&out)
			p := h.Packet(data)
			p.Anno.Timestamp = tc.ts
			h.PushPackets(0, p)
			if out.String() != tc.want {
				t.Errorf("printed %q\nwant    %q", out.String(), tc.want)
			}
			if len(h.Outs[0].Pkts) != 1 || !bytes.Equal(h.Outs[0].Pkts[0].Data(), data) {
				t.Error("packet not passed on unchanged")
			}
		})
	}
	mustFail(t, "Print", "x, CONTENTS BINARY", 1, 1, "CONTENTS")
}

func TestPrintBatchOneWrite(t *testing.T) {
	h := elemtest.New(t, "Print", "n, 1", 1, 1)
	w := &countingWriter{}
	h.Elem.(*Print).SetWriter(w)
	h.Push(0, numbered(3, 5)...)
	if w.writes != 1 || w.buf.String() != "n:    5 | 00\nn:    5 | 01\nn:    5 | 02\n" {
		t.Errorf("%d writes of %q", w.writes, w.buf.String())
	}
}

type countingWriter struct {
	buf    bytes.Buffer
	writes int
}

func (w *countingWriter) Write(p []byte) (int, error) { w.writes++; return w.buf.Write(p) }
