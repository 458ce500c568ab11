package ip

import (
	"flowbox/appliance/core"
	"flowbox/appliance/packet"
	"flowbox/appliance/proto"
)

// SetUDPChecksum recomputes the UDP checksum.
type SetUDPChecksum struct {
	core.Base
}

var udpSummer = transportSummer{proto: proto.ProtoUDP, sumOff: proto.UDPOffSum, minLen: proto.UDPHeaderLen}

func init() {
	core.Register(core.Class{
		Name: "SetUDPChecksum", Ports: "1/1", Processing: "a/a",
		New: func() core.Element { return new(SetUDPChecksum) },
		Doc: core.Doc{
			Synopsis: "SetUDPChecksum",
			Summary:  "sets the UDP checksum",
			Description: `Computes the UDP checksum (with the IPv4 pseudo-header) over the datagram
the IP total length delimits, and stores it (0 is sent as 0xFFFF). Expects
the network-header annotation. Non-UDP packets, fragments, datagrams
shorter than a UDP header and packets with an inconsistent IP header are
dropped (counted).`,
			Ports:    "input 0: annotated UDP/IP packets; output 0: the same packets with a fresh UDP checksum",
			Handlers: []core.Item{{Name: "drops", Text: "read: packets dropped"}},
			Example:  "CheckIPHeader -> SetUDPChecksum -> ...",
		},
	})
}

// Process fixes the UDP checksum of every packet of the batch.
func (s *SetUDPChecksum) Process(ctx *core.Ctx, b *packet.Batch) { udpSummer.process(ctx, &s.Base, b) }

// Handlers exposes the drop count.
func (s *SetUDPChecksum) Handlers() []core.Handler {
	return []core.Handler{core.ReadUint("drops", &s.Drops)}
}
