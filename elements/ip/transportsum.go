package ip

import (
	"flowbox/appliance/core"
	"flowbox/appliance/packet"
	"flowbox/appliance/proto"
)

// transportSummer is the shared body of SetTCPChecksum and SetUDPChecksum.
type transportSummer struct {
	proto  uint8
	sumOff int // checksum offset in the transport header
	minLen int // smallest transport header
}

// process recomputes the checksum of every packet in b, dropping packets
// of another protocol, fragments and truncated segments through base.
func (t transportSummer) process(ctx *core.Ctx, base *core.Base, b *packet.Batch) {
	j := 0
	for i := 0; i < b.N; i++ {
		p := b.P[i]
		if !t.set(ctx, p) {
			base.Drop(ctx, p)
			continue
		}
		b.P[j] = p
		j++
	}
	clear(b.P[j:b.N])
	b.N = j
}

func (t transportSummer) set(ctx *core.Ctx, p *packet.Packet) bool {
	ip, hlen, total, ok := annotatedHeader(p)
	// A fragment does not hold the whole segment the checksum covers.
	if !ok || ip[proto.IPOffProto] != t.proto || proto.IsFragment(ip) || total-hlen < t.minLen {
		return false
	}
	ip, hlen, total, _ = writableHeader(ctx, p)
	proto.SetTransportChecksum(ip, ip[hlen:total], t.proto, t.sumOff)
	return true
}
