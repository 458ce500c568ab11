package ip

import (
	"encoding/binary"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
	"flowbox/appliance/proto"
)

// SetIPChecksum recomputes the IP header checksum.
type SetIPChecksum struct {
	core.Base
}

func init() {
	core.Register(core.Class{
		Name: "SetIPChecksum", Ports: "1/1", Processing: "a/a",
		New: func() core.Element { return new(SetIPChecksum) },
		Doc: core.Doc{
			Synopsis: "SetIPChecksum",
			Summary:  "sets the IP header checksum",
			Description: `Computes the checksum of the IPv4 header found through the network-header
annotation and stores it. Use it after changing header fields by other
means than incremental updates. Packets without a consistent IP header
(annotation unset, version not 4, IHL below 20, total length shorter than
the header or longer than the data) are dropped (counted).`,
			Ports:    "input 0: annotated IP packets; output 0: the same packets with a fresh checksum",
			Handlers: []core.Item{{Name: "drops", Text: "read: malformed packets dropped"}},
			Example:  "FromDump(in.pcap, STOP true, FORCE_IP true) -> SetIPChecksum -> ToDump(fixed.pcap)   // repair a trace's IP checksums",
		},
	})
}

// Process fixes the checksum of every packet of the batch.
func (s *SetIPChecksum) Process(ctx *core.Ctx, b *packet.Batch) {
	j := 0
	for i := 0; i < b.N; i++ {
		p := b.P[i]
		ip, hlen, _, ok := writableHeader(ctx, p)
		if !ok {
			s.Drop(ctx, p)
			continue
		}
		ip[proto.IPOffSum], ip[proto.IPOffSum+1] = 0, 0
		binary.BigEndian.PutUint16(ip[proto.IPOffSum:], headerChecksum(ip[:hlen]))
		b.P[j] = p
		j++
	}
	clear(b.P[j:b.N])
	b.N = j
}

// Handlers exposes the drop count.
func (s *SetIPChecksum) Handlers() []core.Handler {
	return []core.Handler{core.ReadUint("drops", &s.Drops)}
}
