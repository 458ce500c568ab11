package nat

import (
	"net/netip"
	"testing"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
	"flowbox/appliance/proto"
	"flowbox/elements/elemtest"
)

// pkt describes a test packet.
type pkt struct {
	src, dst     string
	sport, dport uint16
	proto        uint8
	flags        uint8  // TCP flags
	seq, ack     uint32 // TCP
	opts         []byte // TCP options (padded to 4 bytes by the caller)
	noUDPSum     bool   // send UDP with checksum 0
	frag         uint16 // IP fragment field
	payload      int
}

func ip4(s string) uint32 { return addrU32(netip.MustParseAddr(s)) }

// build returns a well-formed IPv4 packet with correct checksums.
func (d pkt) build() []byte {
	l4len := proto.UDPHeaderLen
	if d.proto == proto.ProtoTCP {
		l4len = proto.TCPMinHeaderLen + len(d.opts)
	} else if d.proto != proto.ProtoUDP {
		l4len = 8
	}
	b := make([]byte, 20+l4len+d.payload)
	b[0] = 0x45
	proto.Put16(b, proto.IPOffLen, uint16(len(b)))
	proto.Put16(b, proto.IPOffFrag, d.frag)
	b[proto.IPOffTTL] = 64
	b[proto.IPOffProto] = d.proto
	proto.Put32(b, proto.IPOffSrc, ip4(d.src))
	proto.Put32(b, proto.IPOffDst, ip4(d.dst))
	for i := 20 + l4len; i < len(b); i++ {
		b[i] = byte(i * 7)
	}
	seg := b[20:]
	proto.Put16(seg, 0, d.sport)
	proto.Put16(seg, 2, d.dport)
	switch d.proto {
	case proto.ProtoTCP:
		proto.Put32(seg, proto.TCPOffSeq, d.seq)
		proto.Put32(seg, proto.TCPOffAck, d.ack)
		seg[proto.TCPOffDataOff] = byte(l4len/4) << 4
		seg[proto.TCPOffFlags] = d.flags
		proto.Put16(seg, proto.TCPOffWin, 8192)
		copy(seg[20:], d.opts)
		proto.SetTransportChecksum(b, seg, proto.ProtoTCP, proto.TCPOffSum)
	case proto.ProtoUDP:
		proto.Put16(seg, proto.UDPOffLen, uint16(len(seg)))
		if !d.noUDPSum {
			proto.SetTransportChecksum(b, seg, proto.ProtoUDP, proto.UDPOffSum)
		}
	}
	proto.SetIPv4Checksum(b)
	return b
}

func udp(src string, sport uint16, dst string, dport uint16) pkt {
	return pkt{src: src, sport: sport, dst: dst, dport: dport, proto: proto.ProtoUDP, payload: 16}
}

func tcp(src string, sport uint16, dst string, dport uint16, flags uint8) pkt {
	return pkt{src: src, sport: sport, dst: dst, dport: dport, proto: proto.ProtoTCP,
		flags: flags, seq: 1000, ack: 2000, payload: 10}
}

// tupleOf reads the 5-tuple back from packet bytes.
func tupleOf(b []byte) FlowKey {
	return FlowKey{Src: proto.U32(b, proto.IPOffSrc), Dst: proto.U32(b, proto.IPOffDst),
		Sport: proto.U16(b, 20), Dport: proto.U16(b, 22), Proto: b[proto.IPOffProto]}
}

func key(src string, sport uint16, dst string, dport uint16, p uint8) FlowKey {
	return FlowKey{Src: ip4(src), Dst: ip4(dst), Sport: sport, Dport: dport, Proto: p}
}

// checkSums recomputes the IP and transport checksums from scratch.
func checkSums(t *testing.T, b []byte) {
	t.Helper()
	if c := proto.Checksum(b[:20]); c != 0 {
		t.Errorf("IP checksum invalid (residual %#04x)", c)
	}
	p := b[proto.IPOffProto]
	if p != proto.ProtoTCP && p != proto.ProtoUDP {
		return
	}
	seg := b[20:]
	if p == proto.ProtoUDP && proto.U16(seg, proto.UDPOffSum) == 0 {
		return // no checksum
	}
	if c := proto.Fold(proto.Sum(seg, proto.PseudoSum(b, p, len(seg)))); c != 0 {
		t.Errorf("transport checksum invalid (residual %#04x)", c)
	}
}

// newRW builds a rewriter of class with nin inputs and nout outputs.
func newRW(t testing.TB, class, config string, nin, nout int) *elemtest.Harness {
	t.Helper()
	return elemtest.New(t, class, config, nin, nout)
}

func engineOf(h *elemtest.Harness) *Rewriter { return h.Elem.(rewriterOwner).engine() }

// pushAt pushes frames into port at simulated time now.
func pushAt(h *elemtest.Harness, now int64, port int, frames ...pkt) {
	h.Ctx.Now = now
	bs := make([][]byte, len(frames))
	for i, f := range frames {
		bs[i] = f.build()
	}
	h.Push(port, bs...)
}

// take returns and forgets what output port collected.
func take(h *elemtest.Harness, port int) [][]byte {
	d := h.Outs[port].Data()
	h.Outs[port].Pkts = nil
	return d
}

// sink is a push target that neither keeps nor frees packets, so it does
// not allocate (for AllocsPerRun and benchmarks).
type sink struct {
	n    int
	keep *[packet.MaxBatch]*packet.Packet
}

func (s *sink) Push(_ *core.Ctx, _ int, b *packet.Batch) {
	s.n += b.N
	if s.keep != nil {
		copy(s.keep[:], b.P[:b.N])
	}
	b.Reset()
}

const sec = int64(1e9)
