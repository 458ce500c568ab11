package ipexpr

import (
	"encoding/binary"
	"math/rand/v2"
)

// pkt describes a test packet; build turns it into IP header bytes.
type pkt struct {
	src, dst     [4]byte
	proto        byte
	sport, dport uint16
	ttl, tos     byte
	id, frag     uint16 // frag: flags and offset field
	tcpFlags     byte
	win          uint16
	icmpType     byte
	optWords     int // IP option words (IHL = 5 + optWords)
	truncate     int // if > 0, keep only this many bytes
}

func basePkt(proto byte) pkt {
	return pkt{src: [4]byte{10, 0, 0, 1}, dst: [4]byte{10, 0, 0, 2}, proto: proto,
		sport: 1234, dport: 80, ttl: 64, win: 512}
}

func (p pkt) build() []byte {
	hl := 20 + 4*p.optWords
	b := make([]byte, hl+20+8)
	b[0] = 0x40 | byte(hl/4)
	b[1] = p.tos
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	binary.BigEndian.PutUint16(b[4:], p.id)
	binary.BigEndian.PutUint16(b[6:], p.frag)
	b[8], b[9] = p.ttl, p.proto
	copy(b[12:], p.src[:])
	copy(b[16:], p.dst[:])
	t := b[hl:]
	switch p.proto {
	case 1:
		t[0] = p.icmpType
	default:
		binary.BigEndian.PutUint16(t[0:], p.sport)
		binary.BigEndian.PutUint16(t[2:], p.dport)
		if p.proto == 6 {
			t[12] = 0x50
			t[13] = p.tcpFlags
			binary.BigEndian.PutUint16(t[14:], p.win)
		}
	}
	if p.truncate > 0 {
		b = b[:p.truncate]
	}
	return b
}

// refMatch is the specification: try the rules in order on the AST.
func refMatch(rules []ASTRule, p Packet) int {
	for _, r := range rules {
		if EvalPacket(r.Expr, p) {
			return r.Output
		}
	}
	return -1
}

// randomPacket makes a packet that often satisfies some of the rules'
// tests: it starts from a plausible header and plants test values.
func randomPacket(r *rand.Rand, tests []*Test) Packet {
	protos := []byte{1, 6, 17, byte(r.IntN(256))}
	p := basePkt(protos[r.IntN(len(protos))])
	p.optWords = []int{0, 0, 0, 1, 3}[r.IntN(5)]
	p.frag = []uint16{0, 0, 0x4000, 0x2000, 0x0010, uint16(r.Uint32())}[r.IntN(6)]
	p.ttl = []byte{0, 1, 64, byte(r.IntN(256))}[r.IntN(4)]
	p.tcpFlags = byte(r.Uint32())
	p.sport, p.dport = uint16(r.IntN(70000)), uint16(r.IntN(70000))
	ip := p.build()
	mac := make([]byte, 14)
	for i := range mac {
		mac[i] = byte(r.IntN(4))
	}
	if r.IntN(8) == 0 { // a random IHL, possibly bogus
		ip[0] = ip[0]&0xf0 | byte(r.IntN(16))
	}
	for _, t := range tests {
		if r.IntN(3) == 0 {
			plant(r, t, ip, mac)
		}
	}
	if r.IntN(4) == 0 {
		ip = ip[:r.IntN(len(ip)+1)]
	}
	if r.IntN(10) == 0 {
		mac = nil
	}
	return Packet{IP: ip, MAC: mac}
}

// plant writes a value satisfying (or just missing) t into the packet.
func plant(r *rand.Rand, t *Test, ip, mac []byte) {
	var d []byte
	switch t.Base {
	case BaseIP:
		d = ip
	case BaseTransport:
		d = TransportHeader(ip)
	case BaseMAC:
		d = mac
	}
	if t.Off+t.Len > len(d) {
		return
	}
	v := t.Value + uint32(r.IntN(3)) - 1
	var old uint32
	for _, c := range d[t.Off : t.Off+t.Len] {
		old = old<<8 | uint32(c)
	}
	x := old&^t.Mask | v&t.Mask
	for i := t.Len - 1; i >= 0; i-- {
		d[t.Off+i] = byte(x)
		x >>= 8
	}
}

func testsOf(rules []ASTRule) []*Test {
	var out []*Test
	for _, r := range rules {
		Walk(r.Expr, func(n Node) {
			if t, ok := n.(*Test); ok {
				out = append(out, t)
			}
		})
	}
	return out
}
