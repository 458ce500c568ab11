package ip

import (
	"flowbox/appliance/core"
	"flowbox/appliance/packet"
)

// StripIPHeader removes everything up to the transport header.
type StripIPHeader struct {
	core.Base
}

func init() {
	core.Register(core.Class{
		Name: "StripIPHeader", Ports: "1/1", Processing: "a/a",
		New: func() core.Element { return new(StripIPHeader) },
		Doc: core.Doc{
			Synopsis: "StripIPHeader",
			Summary:  "strips the IP header (and anything before it)",
			Description: `Moves the data pointer to the transport header annotation, so the packet
starts with its IP payload. Without a transport annotation it uses the
network annotation plus the IHL field. The bytes stay in the headroom, so
Unstrip or UnstripIPHeader can bring them back. Packets without usable
annotations are dropped (counted).`,
			Ports:    "input 0: IP packets annotated by CheckIPHeader or MarkIPHeader; output 0: their payloads",
			Handlers: []core.Item{{Name: "drops", Text: "read: packets dropped for lack of an IP header annotation"}},
			Example:  "CheckIPHeader -> StripIPHeader -> Print(payload)",
		},
	})
}

// Process strips every packet of the batch.
func (s *StripIPHeader) Process(ctx *core.Ctx, b *packet.Batch) {
	j := 0
	for i := 0; i < b.N; i++ {
		p := b.P[i]
		off := transportOffset(p)
		if off < 0 {
			s.Drop(ctx, p)
			continue
		}
		p.Pull(off)
		b.P[j] = p
		j++
	}
	clear(b.P[j:b.N])
	b.N = j
}

// transportOffset is where the IP payload starts relative to the data, or
// -1 when the annotations do not say.
func transportOffset(p *packet.Packet) int {
	if off := p.TransportOffset(); off >= 0 && off <= p.Len() {
		return off
	}
	ip := p.Network()
	if len(ip) < 20 {
		return -1
	}
	hlen := int(ip[0]&0x0f) << 2
	off := p.NetworkOffset() + hlen
	if hlen < 20 || off > p.Len() {
		return -1
	}
	return off
}

// Handlers exposes the drop count.
func (s *StripIPHeader) Handlers() []core.Handler {
	return []core.Handler{core.ReadUint("drops", &s.Drops)}
}
