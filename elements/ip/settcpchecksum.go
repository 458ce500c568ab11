package ip

import (
	"flowbox/appliance/core"
	"flowbox/appliance/packet"
	"flowbox/appliance/proto"
)

// SetTCPChecksum recomputes the TCP checksum.
type SetTCPChecksum struct {
	core.Base
}

var tcpSummer = transportSummer{proto: proto.ProtoTCP, sumOff: proto.TCPOffSum, minLen: proto.TCPMinHeaderLen}

func init() {
	core.Register(core.Class{
		Name: "SetTCPChecksum", Ports: "1/1", Processing: "a/a",
		New: func() core.Element { return new(SetTCPChecksum) },
		Doc: core.Doc{
			Synopsis: "SetTCPChecksum",
			Summary:  "sets the TCP checksum",
			Description: `Computes the TCP checksum (with the IPv4 pseudo-header) over the segment
the IP total length delimits, and stores it. Expects the network-header
annotation. Non-TCP packets, fragments, segments shorter than a TCP
header and packets with an inconsistent IP header are dropped (counted).`,
			Ports:    "input 0: annotated TCP/IP packets; output 0: the same packets with a fresh TCP checksum",
			Handlers: []core.Item{{Name: "drops", Text: "read: packets dropped"}},
			Example:  "CheckIPHeader -> SetTCPChecksum -> ...",
		},
	})
}

// Process fixes the TCP checksum of every packet of the batch.
func (s *SetTCPChecksum) Process(ctx *core.Ctx, b *packet.Batch) { tcpSummer.process(ctx, &s.Base, b) }

// Handlers exposes the drop count.
func (s *SetTCPChecksum) Handlers() []core.Handler {
	return []core.Handler{core.ReadUint("drops", &s.Drops)}
}
