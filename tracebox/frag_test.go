package tracebox_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"flowbox/tracebox"
)

// TestFragment checks that the fragments, crafted, carry the original
// payload at their offsets with MF on all but the last, and the same ID.
func TestFragment(t *testing.T) {
	p, err := tracebox.ParseProbe(`ip{src="10.0.0.1", dst="10.0.0.2", id=77, flags=2} / tcp{dst=80} / raw(string.rep("y", 50))`)
	if err != nil {
		t.Fatal(err)
	}
	whole, err := tracebox.Craft(p, 9)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := tracebox.Fragment(p, 30) // rounded to 24
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 3 { // 70 bytes of TCP: 24 + 24 + 22
		t.Fatalf("%d fragments", len(fs))
	}
	var re []byte
	for i, f := range fs {
		b, err := tracebox.Craft(f, 9)
		if err != nil {
			t.Fatal(err)
		}
		ff := binary.BigEndian.Uint16(b[6:])
		mf, off := ff&0x2000 != 0, int(ff&0x1fff)*8
		if b[9] != 6 || binary.BigEndian.Uint16(b[4:]) != 77 || b[8] != 9 || mf != (i < 2) || ff&0x4000 == 0 || off != len(re) ||
			int(binary.BigEndian.Uint16(b[2:])) != len(b) {
			t.Fatalf("fragment %d: % x", i, b)
		}
		re = append(re, b[20:]...)
	}
	if !bytes.Equal(re, whole[20:]) {
		t.Fatalf("reassembled payload differs:\n% x\n% x", re, whole[20:])
	}
	if _, err := tracebox.Fragment(&tracebox.Packet{}, 8); err == nil {
		t.Fatal("no error for a packet without IPv4")
	}
}
