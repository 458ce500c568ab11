package ip

import (
	"flowbox/appliance/core"
	"flowbox/appliance/packet"
	"flowbox/appliance/proto"
)

// IPMirror swaps the source and destination of IP packets.
type IPMirror struct {
	core.Base
	dstAnno bool
}

func init() {
	core.Register(core.Class{
		Name: "IPMirror", Ports: "1/1", Processing: "a/a",
		New: func() core.Element { return &IPMirror{dstAnno: true} },
		Doc: core.Doc{
			Synopsis: "IPMirror([DST_ANNO])",
			Summary:  "swaps IP source and destination",
			Description: `Swaps the IP source and destination addresses and, for TCP and UDP first
fragments, the source and destination ports. Swapping fields that the
checksums add up leaves every checksum valid, so none is recomputed. With
DST_ANNO true (the default) the destination-IP annotation is set to the
new destination. Expects the network-header annotation; packets without a
consistent IP header are dropped (counted).`,
			Ports:    "input 0: annotated IP packets; output 0: mirrored packets",
			Args:     []core.Item{{Name: "DST_ANNO", Text: "boolean, set the destination annotation (default true)"}},
			Handlers: []core.Item{{Name: "drops", Text: "read: malformed packets dropped"}},
			Example:  "CheckIPHeader -> IPMirror -> EtherMirror -> ToDevice(eth0)",
		},
	})
}

// Configure parses DST_ANNO.
func (m *IPMirror) Configure(a *core.Args) error {
	return a.Parse(core.Pos("DST_ANNO", core.Bool(&m.dstAnno)))
}

// Process mirrors every packet of the batch.
func (m *IPMirror) Process(ctx *core.Ctx, b *packet.Batch) {
	j := 0
	for i := 0; i < b.N; i++ {
		p := b.P[i]
		if !m.mirror(ctx, p) {
			m.Drop(ctx, p)
			continue
		}
		b.P[j] = p
		j++
	}
	clear(b.P[j:b.N])
	b.N = j
}

func (m *IPMirror) mirror(ctx *core.Ctx, p *packet.Packet) bool {
	ip, hlen, total, ok := writableHeader(ctx, p)
	if !ok {
		return false
	}
	swap4(ip[proto.IPOffSrc:], ip[proto.IPOffDst:])
	pr := ip[proto.IPOffProto]
	if (pr == proto.ProtoTCP || pr == proto.ProtoUDP) && proto.IsFirstFragment(ip) && total-hlen >= 4 {
		t := ip[hlen:]
		t[0], t[1], t[2], t[3] = t[2], t[3], t[0], t[1]
	}
	if m.dstAnno {
		copy(p.Anno.DstIP[:], ip[proto.IPOffDst:proto.IPOffDst+4])
	}
	return true
}

func swap4(a, b []byte) {
	a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3] = b[0], b[1], b[2], b[3], a[0], a[1], a[2], a[3]
}

// Handlers exposes the drop count.
func (m *IPMirror) Handlers() []core.Handler {
	return []core.Handler{core.ReadUint("drops", &m.Drops)}
}
