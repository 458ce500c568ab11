package middlebox

import (
	"fmt"
	"strconv"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
	"flowbox/appliance/proto"
)

// SegSplit splits TCP segments into smaller ones.
type SegSplit struct {
	core.Base
	counters
	size    int
	created uint64
}

func init() {
	core.Register(core.Class{
		Name: "SegSplit", Ports: "1/1", Processing: "h/h",
		New: func() core.Element { return new(SegSplit) },
		Doc: core.Doc{
			Synopsis: "SegSplit(SIZE)",
			Summary:  "splits TCP segments carrying more than SIZE payload bytes",
			Description: `Models a box that resegments TCP (a proxy or a TSO-like splitter): a
segment with more than SIZE payload bytes leaves as ceil(len/SIZE)
segments of at most SIZE bytes each, in order. Every piece copies the link
header (if any), the IP header and the TCP header with its options; the
sequence numbers advance with the payload, the IP identification increases
by one per piece, FIN and PSH stay on the last piece only, and the IP
total length, IP checksum and TCP checksum of each piece are computed in
full. Annotations are copied; link padding after the IP packet is dropped.

SYN, RST and URG segments, segments with at most SIZE payload bytes,
non-TCP packets and fragments pass unchanged. Packets without a consistent
IPv4 header annotation are dropped and counted; TCP segments with an
inconsistent data offset pass unchanged and are counted as malformed.`,
			Ports: "input 0 (push): annotated IP packets; output 0 (push): the same traffic, segmented",
			Args:  []core.Item{{Name: "SIZE", Text: "integer >= 1, the largest payload per segment (mandatory)"}},
			Handlers: handlerDocs(
				core.Item{Name: "size", Text: "read/write: SIZE"},
				core.Item{Name: "created", Text: "read: segments produced by splitting"},
			),
			Example: "CheckIPHeader -> SegSplit(536) -> ...",
		},
	})
}

// Configure parses SIZE.
func (g *SegSplit) Configure(a *core.Args) error {
	return a.Parse(core.Pos("SIZE", g.sizeValue).Required())
}

func (g *SegSplit) sizeValue(s string) error {
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 || v > 65535 {
		return fmt.Errorf("expected segment size 1-65535, got %q", s)
	}
	g.size = v
	return nil
}

// Push splits what needs splitting and forwards everything in order.
func (g *SegSplit) Push(ctx *core.Ctx, _ int, b *packet.Batch) {
	for i := 0; i < b.N; i++ {
		p := b.P[i]
		b.P[i] = nil
		s, work, keep := classify(ctx, &g.Base, &g.counters, p)
		if !keep {
			continue
		}
		if work && len(s.payload()) > g.size &&
			s.flags()&(proto.TCPSyn|proto.TCPRst|proto.TCPUrg) == 0 {
			g.split(ctx, p, s)
			continue
		}
		g.Emit(ctx, 0, p)
	}
	b.N = 0
	g.Flush(ctx)
}

func (g *SegSplit) split(ctx *core.Ctx, p *packet.Packet, s seg) {
	netOff := p.NetworkOffset()
	hdr := netOff + s.hlen + s.thl // bytes copied into every piece
	pay := s.payload()
	seq := proto.U32(s.tcp, proto.TCPOffSeq)
	id := proto.U16(s.ip, proto.IPOffID)
	flags := s.flags()
	for k, off := 0, 0; off < len(pay); k, off = k+1, off+g.size {
		n := min(g.size, len(pay)-off)
		q := ctx.Pool.New(hdr + n)
		d := q.Data()
		copy(d, p.Data()[:hdr])
		copy(d[hdr:], pay[off:off+n])
		q.Anno = p.Anno
		q.Anno.Mac, q.Anno.Trans = -1, -1
		if mo := p.Anno.Mac; mo >= 0 && int(mo) >= p.Offset() {
			q.SetMacAt(int(mo) - p.Offset())
		}
		q.SetNetworkAt(netOff)
		if p.Anno.Trans >= 0 {
			q.SetTransportAt(netOff + s.hlen)
		}
		ip := d[netOff:]
		tcp := ip[s.hlen:]
		proto.Put16(ip, proto.IPOffLen, uint16(s.hlen+s.thl+n))
		proto.Put16(ip, proto.IPOffID, id+uint16(k))
		proto.Put32(tcp, proto.TCPOffSeq, seq+uint32(off))
		if off+n < len(pay) {
			tcp[proto.TCPOffFlags] = flags &^ (proto.TCPFin | proto.TCPPsh)
		}
		ps := seg{ip: ip[:s.hlen+s.thl+n], tcp: tcp[:s.thl+n], hlen: s.hlen, total: s.hlen + s.thl + n, thl: s.thl}
		fixAllSums(&ps)
		g.created++
		g.Emit(ctx, 0, q)
	}
	g.changed++
	ctx.Pool.Free(p)
}

// Handlers exposes SIZE and the counters.
func (g *SegSplit) Handlers() []core.Handler {
	return append([]core.Handler{
		core.ReadWrite("size", func() string { return strconv.Itoa(g.size) }, g.sizeValue),
		core.ReadUint("created", &g.created),
	}, g.counters.handlers(&g.Base)...)
}
