package ipfrag

import (
	"bytes"
	"sort"
	"testing"

	"flowbox/appliance/packet"
	"flowbox/appliance/proto"
	"flowbox/elements/elemtest"
)

// Options: record route (7, not copied, len 7) + NOP, then security-like
// option 130 (copied, len 4). Header length 32.
var testOpts = []byte{7, 7, 4, 0, 0, 0, 0, 1, 130, 4, 0xab, 0xcd}

func TestFragmenterSplitsAndChecksums(t *testing.T) {
	cases := []struct {
		name     string
		opts     []byte
		payload  int
		mtu      string
		wantOpts []int // option bytes expected in each fragment's header
	}{
		{"no options", nil, 3000, "1500", []int{0, 0, 0}},
		{"copied option only in later", testOpts, 1000, "576", []int{12, 4}},
		{"exact multiple", nil, 1480 * 2, "1500", []int{0, 0}},
		{"tiny mtu", nil, 100, "28", nil}, // 8-byte pieces
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := datagram(77, c.opts, c.payload, 0)
			hl := 20 + len(c.opts)
			frags := fragmentVia(t, d, c.mtu)
			if c.wantOpts != nil && len(frags) != len(c.wantOpts) {
				t.Fatalf("%d fragments, want %d", len(frags), len(c.wantOpts))
			}
			sort.Slice(frags, func(i, j int) bool {
				return proto.U16(frags[i], 6)&proto.IPFragOffMask < proto.U16(frags[j], 6)&proto.IPFragOffMask
			})
			var payload []byte
			for i, f := range frags {
				checkHeader(t, f)
				fhl := proto.IPv4HeaderLen(f)
				if c.wantOpts != nil && fhl-20 != c.wantOpts[i] {
					t.Errorf("fragment %d has %d option bytes, want %d", i, fhl-20, c.wantOpts[i])
				}
				if i > 0 && c.opts != nil && !bytes.Equal(f[20:24], []byte{130, 4, 0xab, 0xcd}) {
					t.Errorf("fragment %d options % x, want the copied option", i, f[20:fhl])
				}
				if int(proto.U16(f, 2)) != len(f) || len(f) > atoiT(t, c.mtu) {
					t.Errorf("fragment %d: length field %d, bytes %d, mtu %s", i, proto.U16(f, 2), len(f), c.mtu)
				}
				frag := proto.U16(f, 6)
				if off := int(frag&proto.IPFragOffMask) * 8; off != len(payload) {
					t.Errorf("fragment %d offset %d, want %d", i, off, len(payload))
				}
				last := i == len(frags)-1
				if (frag&proto.IPFlagMF != 0) == last {
					t.Errorf("fragment %d MF=%v, last=%v", i, frag&proto.IPFlagMF != 0, last)
				}
				if !last && (len(f)-fhl)%8 != 0 {
					t.Errorf("fragment %d payload %d not a multiple of 8", i, len(f)-fhl)
				}
				payload = append(payload, f[fhl:]...)
			}
			if !bytes.Equal(payload, d[hl:]) {
				t.Fatalf("fragments do not carry the payload")
			}
		})
	}
}

func atoiT(t *testing.T, s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func TestFragmenterKeepsSmallAndLinkHeader(t *testing.T) {
	h := elemtest.New(t, "IPFragmenter", "1500", 1, 1)
	small := datagram(1, nil, 100, 0)
	link := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 8, 0}
	h.PushPackets(0, ipPacket(h, link, small), ipPacket(h, link, datagram(2, nil, 2000, 0)))
	out := h.Outs[0].Pkts
	if len(out) != 3 {
		t.Fatalf("%d packets out, want 3", len(out))
	}
	if !bytes.Equal(out[0].Data(), append(append([]byte(nil), link...), small...)) {
		t.Errorf("small packet changed")
	}
	var first *packet.Packet
	for _, p := range out[1:] {
		if proto.IsFirstFragment(p.Network()) {
			first = p
		} else if p.NetworkOffset() != 0 {
			t.Errorf("later fragment has link bytes before IP (offset %d)", p.NetworkOffset())
		}
	}
	if first == nil || !bytes.Equal(first.Data()[:14], link) || len(first.Data()) != 14+1500 {
		t.Fatalf("first fragment lost its link header or has wrong length")
	}
}

func TestFragmenterDF(t *testing.T) {
	big := datagram(3, nil, 2000, proto.IPFlagDF)
	cases := []struct {
		config     string
		nout       int
		out0, out1 int
		drops      uint64
	}{
		{"1500", 2, 0, 1, 1},
		{"1500", 1, 0, 0, 1},
		{"1500, HONOR_DF false", 2, 2, 0, 0},
		{"28", 2, 0, 1, 1}, // DF honored before the size check
	}
	for _, c := range cases {
		h := elemtest.New(t, "IPFragmenter", c.config, 1, c.nout)
		h.PushPackets(0, ipPacket(h, nil, big))
		got1 := 0
		if c.nout > 1 {
			got1 = len(h.Outs[1].Pkts)
		}
		if len(h.Outs[0].Pkts) != c.out0 || got1 != c.out1 || h.Read("drops") != itoa(int(c.drops)) {
			t.Errorf("%s/%d: out0 %d out1 %d drops %s; want %d %d %d", c.config, c.nout,
				len(h.Outs[0].Pkts), got1, h.Read("drops"), c.out0, c.out1, c.drops)
		}
	}
	// No room for 8 data bytes after a 60-byte header at MTU 64: output 1.
	opts := bytes.Repeat([]byte{1}, 40)
	h := elemtest.New(t, "IPFragmenter", "64", 1, 2)
	h.PushPackets(0, ipPacket(h, nil, datagram(4, opts, 100, 0)))
	if len(h.Outs[1].Pkts) != 1 {
		t.Errorf("unfragmentable packet not on output 1")
	}
}

func TestFragmenterMalformed(t *testing.T) {
	good := datagram(5, nil, 2000, 0)
	short := good[:10]
	badVer := append([]byte(nil), good...)
	badVer[0] = 0x65
	badLen := append([]byte(nil), good...)
	proto.Put16(badLen, 2, 5000)
	badOpt := datagram(6, []byte{130, 9, 0, 0}, 2000, 0)
	h := elemtest.New(t, "IPFragmenter", "1500", 1, 2)
	noAnno := h.Packet(good)
	h.PushPackets(0, ipPacket(h, nil, short), ipPacket(h, nil, badVer), ipPacket(h, nil, badLen),
		ipPacket(h, nil, badOpt), noAnno)
	if len(h.Outs[0].Pkts)+len(h.Outs[1].Pkts) != 0 || h.Read("malformed") != "5" {
		t.Fatalf("malformed packets leaked: out0 %d out1 %d malformed %s", len(h.Outs[0].Pkts), len(h.Outs[1].Pkts), h.Read("malformed"))
	}
}

func TestFragmenterHeadroomAndConfig(t *testing.T) {
	h := elemtest.New(t, "IPFragmenter", "MTU 576, HEADROOM 200", 1, 1)
	h.PushPackets(0, ipPacket(h, nil, datagram(7, nil, 1000, 0)))
	for _, p := range h.Outs[0].Pkts {
		if !proto.IsFirstFragment(p.Network()) && p.Headroom() < 200 {
			t.Errorf("fragment headroom %d, want >= 200", p.Headroom())
		}
	}
	for _, bad := range []string{"", "20", "70000", "1500, HEADROOM -1", "1500, FOO 1"} {
		if _, err := elemtest.Build(t, "IPFragmenter", bad, elemtest.Options{Inputs: 1, Outputs: 1}); err == nil {
			t.Errorf("config %q accepted", bad)
		}
	}
}

func TestFragmenterAllocatesNothing(t *testing.T) {
	h := elemtest.New(t, "IPFragmenter", "576", 1, 1)
	h.Outs[0].Discard = true
	d := datagram(8, testOpts, 1400, 0)
	var b packet.Batch
	fill := func() {
		for i := 0; i < 16; i++ {
			b.Append(ipPacket(h, nil, d))
		}
	}
	fill()
	h.PushBatch(0, &b)
	if n := testing.AllocsPerRun(100, func() { fill(); h.PushBatch(0, &b) }); n != 0 {
		t.Fatalf("%v allocations per batch", n)
	}
}

func BenchmarkIPFragmenter(b *testing.B) {
	h := elemtest.New(b, "IPFragmenter", "576", 1, 1)
	h.Outs[0].Discard = true
	d := datagram(9, nil, 1480, 0)
	var batch packet.Batch
	for b.Loop() {
		for i := 0; i < 16; i++ {
			batch.Append(ipPacket(h, nil, d))
		}
		h.PushBatch(0, &batch)
	}
}

// Click sends the fragments in order, starting with the first; with more
// fragments than one output batch holds, the first leaves before the last
// are cut, and the later ones must still carry the right bytes.
func TestFragmenterEmitsInOrder(t *testing.T) {
	for _, c := range []struct {
		mtu     string
		payload int
	}{{"576", 1000}, {"1500", 4000}, {"28", 1000}} {
		d := datagram(9, nil, c.payload, 0)
		frags := fragmentVia(t, d, c.mtu)
		var payload []byte
		for i, f := range frags {
			checkHeader(t, f)
			if off := int(proto.U16(f, 6)&proto.IPFragOffMask) * 8; off != len(payload) {
				t.Fatalf("MTU %s: fragment %d of %d has offset %d, want %d (out of order)", c.mtu, i, len(frags), off, len(payload))
			}
			payload = append(payload, f[20:]...)
		}
		if !bytes.Equal(payload, d[20:]) {
			t.Fatalf("MTU %s: fragments do not carry the payload", c.mtu)
		}
	}
}
