package proto

import (
	"encoding/binary"
	"math/rand"
	"testing"
)

// refChecksum is the plain RFC 1071 algorithm, 16 bits at a time.
func refChecksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

func TestChecksumMatchesReference(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for n := 0; n < 300; n++ {
		b := make([]byte, n)
		r.Read(b)
		if got, want := Checksum(b), refChecksum(b); got != want {
			t.Fatalf("len %d: Checksum %#04x, reference %#04x", n, got, want)
		}
	}
}

func TestIncrementalUpdateEqualsRecompute(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	for i := 0; i < 10000; i++ {
		h := make([]byte, 20)
		r.Read(h)
		h[0] = 0x45
		SetIPv4Checksum(h)
		old := binary.BigEndian.Uint32(h[IPOffSrc:])
		nw := r.Uint32()
		binary.BigEndian.PutUint32(h[IPOffSrc:], nw)
		UpdateSum32(h[IPOffSum:], old, nw)
		if Checksum(h) != 0 {
			t.Fatalf("incremental update left a bad checksum (sum %#04x)", Checksum(h))
		}
	}
}

func TestNextTCPOptionWalk(t *testing.T) {
	// MSS 1460, NOP, WScale 7, SACK-permitted, then EOL.
	tcp := make([]byte, 32)
	tcp[TCPOffDataOff] = 8 << 4
	copy(tcp[20:], []byte{2, 4, 5, 180, 1, 3, 3, 7, 4, 2, 0, 0})
	var kinds []byte
	end := TCPHeaderEnd(tcp)
	for i, n := TCPMinHeaderLen, 0; i < end; i += n {
		var k byte
		var ok bool
		if k, n, ok = NextTCPOption(tcp, i, end); !ok || k == TCPOptEOL {
			break
		}
		kinds = append(kinds, k)
	}
	if string(kinds) != string([]byte{2, 1, 3, 4}) {
		t.Errorf("walked kinds %v", kinds)
	}
	for _, bad := range [][]byte{{2}, {2, 1}, {2, 40}} { // truncated, too short, past the end
		opt := append(make([]byte, 20), bad...)
		if _, _, ok := NextTCPOption(opt, 20, len(opt)); ok {
			t.Errorf("malformed option %v accepted", bad)
		}
	}
}

func FuzzNextTCPOption(f *testing.F) {
	f.Add([]byte{2, 4, 5, 180, 1, 1, 0})
	f.Add([]byte{5, 10, 0, 0, 0, 1, 0, 0, 0, 2})
	f.Add([]byte{8, 1})
	f.Fuzz(func(t *testing.T, opts []byte) {
		tcp := append(make([]byte, 20), opts...)
		end := len(tcp)
		for i, n := TCPMinHeaderLen, 0; i < end; i += n {
			var ok bool
			if _, n, ok = NextTCPOption(tcp, i, end); !ok {
				return
			}
			if n < 1 || i+n > end {
				t.Fatalf("option at %d has length %d past %d", i, n, end)
			}
		}
	})
}

func TestIPv4Datagram(t *testing.T) {
	hdr := func(ihl byte, total uint16, n int) []byte {
		b := make([]byte, n)
		if n > 0 {
			b[0] = 0x40 | ihl
		}
		if n >= 4 {
			b[2], b[3] = byte(total>>8), byte(total)
		}
		return b
	}
	for _, c := range []struct {
		name string
		b    []byte
		want int // length returned, -1 for nil
	}{
		{"exact", hdr(5, 28, 28), 28},
		{"padding dropped", hdr(5, 28, 60), 28},
		{"truncated kept", hdr(5, 100, 40), 40},
		{"options", hdr(6, 32, 32), 32},
		{"too short", hdr(5, 20, 19), -1},
		{"IHL below 5", hdr(4, 20, 20), -1},
		{"header beyond data", hdr(15, 60, 40), -1},
		{"total below header", hdr(5, 19, 40), -1},
		{"IPv6", append([]byte{0x60}, make([]byte, 39)...), -1},
		{"empty", nil, -1},
	} {
		got := IPv4Datagram(c.b)
		if (got == nil) != (c.want < 0) || (got != nil && len(got) != c.want) {
			t.Errorf("%s: got %d bytes (nil %v), want %d", c.name, len(got), got == nil, c.want)
		}
	}
}
