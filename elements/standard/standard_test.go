package standard

import (
	"strings"
	"testing"
)

func TestSizeData(t *testing.T) {
	tests := []struct {
		data   string
		length int
		want   string
	}{
		{"abc", -1, "abc"},
		{"abc", 2, "ab"},
		{"abc", 7, "abcabca"},
		{"", 3, "\x00\x00\x00"},
		{"abc", 0, ""},
	}
	for _, tc := range tests {
		if got := string(sizeData(tc.data, tc.length)); got != tc.want {
			t.Errorf("sizeData(%q, %d) = %q, want %q", tc.data, tc.length, got, tc.want)
		}
	}
}

func TestHandlerCall(t *testing.T) {
	var h handlerCall
	if err := h.set("5 a.b hello world"); err != nil || h.at != 5 || h.handler != "a.b" || h.value != "hello world" {
		t.Fatalf("%v %+v", err, h)
	}
	if h.crossed(0, 4) || !h.crossed(4, 5) || h.crossed(4, 6) {
		t.Error("crossed should fire exactly once, when reaching N")
	}
	for _, bad := range []string{"", "5", "x a.b"} {
		if (&handlerCall{}).set(bad) == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// FuzzHandlerCall checks the COUNT_CALL parser never panics and that what
// it accepts prints back to an equivalent trigger.
func FuzzHandlerCall(f *testing.F) {
	for _, s := range []string{"5 a.b", "1 stop", "0x10 c.reset now", "3 \"q.x\" 'v w'", "", "-1 a", "18446744073709551615 z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var h handlerCall
		if h.set(s) != nil {
			return
		}
		var again handlerCall
		if err := again.set(h.String()); err != nil || again.at != h.at || again.handler != h.handler {
			t.Fatalf("%q -> %q does not reparse: %v", s, h.String(), err)
		}
	})
}

// FuzzPaintAnno checks the ANNO parser never panics and round-trips.
func FuzzPaintAnno(f *testing.F) {
	for _, s := range []string{"PAINT", "user0", "USER3", "USER4", "USER", "", "paint_anno"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var a paintAnno
		if a.set(s) != nil {
			return
		}
		var b paintAnno
		if err := b.set(a.String()); err != nil || a != b {
			t.Fatalf("%q -> %v does not round-trip", s, a)
		}
	})
}

// FuzzPrintLine checks the line formatter on arbitrary packets: it must
// not panic and must print the length and at most MAXLENGTH bytes.
func FuzzPrintLine(f *testing.F) {
	f.Add([]byte("hello"), 24, 1)
	f.Add([]byte{}, 0, 2)
	f.Add(udp64(), -1, 0)
	f.Fuzz(func(t *testing.T, data []byte, maxLen, contents int) {
		if len(data) > maxDataLen {
			return
		}
		p := &Print{label: "L", maxLength: maxLen, contents: ((contents % 3) + 3) % 3}
		pool := testPool()
		pkt := pool.NewFrom(data)
		line := string(p.appendLine(nil, pkt))
		if !strings.HasPrefix(line, "L: ") || !strings.HasSuffix(line, "\n") {
			t.Fatalf("bad line %q", line)
		}
		pool.Free(pkt)
	})
}
