package icmp

import (
	"encoding/binary"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
	"flowbox/appliance/proto"
)

// ICMPPingResponder answers ICMP echo requests in place.
type ICMPPingResponder struct {
	core.Base
	replies uint64
	others  uint64
}

func init() {
	core.Register(core.Class{
		Name: "ICMPPingResponder", Ports: "1/1-2", Processing: "a/ah",
		New: func() core.Element { return new(ICMPPingResponder) },
		Doc: core.Doc{
			Synopsis: "ICMPPingResponder",
			Summary:  "responds to ICMP echo requests",
			Description: `Turns each ICMP echo request (found through the network-header
annotation) into an echo reply in place: the IP source and destination are
swapped, the TTL is set to 255, the IP checksum is recomputed, the ICMP type
becomes echo-reply with its checksum updated incrementally, and the
destination-IP annotation is set to the new destination (the requester).

Everything else goes to output 1 if it exists and is dropped otherwise:
other ICMP types and protocols, fragments (a fragment cannot be answered
whole), and packets with a malformed IP or ICMP header.`,
			Ports: "input 0: annotated IP packets; output 0: echo replies; output 1 (optional): other packets",
			Handlers: []core.Item{
				{Name: "count", Text: "read: echo replies sent"},
				{Name: "drops", Text: "read: packets that were not echo requests"},
			},
			Example: "ip :: CheckIPHeader(14); ip -> ICMPPingResponder -> EtherMirror -> ToDevice(eth0)",
		},
	})
}

// Process answers what it can in place; other packets leave on output 1
// (or are dropped without it). The runtime adapts it to push and pull.
func (r *ICMPPingResponder) Process(ctx *core.Ctx, b *packet.Batch) {
	n := b.N
	b.Filter(func(p *packet.Packet) bool { return r.reply(ctx, p) },
		func(p *packet.Packet) { r.Reject(ctx, p) })
	r.replies += uint64(b.N)
	r.others += uint64(n - b.N)
}

// echoHeader returns the IP packet when it is an unfragmented ICMP echo
// request with a complete ICMP header, nil otherwise.
func echoHeader(p *packet.Packet) (ip []byte, hlen int) {
	ip = p.Network()
	if len(ip) < proto.IPv4MinHeaderLen || ip[0]>>4 != 4 {
		return nil, 0
	}
	hlen = proto.IPv4HeaderLen(ip)
	total := int(binary.BigEndian.Uint16(ip[proto.IPOffLen:]))
	if hlen < proto.IPv4MinHeaderLen || total > len(ip) || total < hlen+8 ||
		ip[proto.IPOffProto] != proto.ProtoICMP || proto.IsFragment(ip) || ip[hlen] != proto.ICMPEcho {
		return nil, 0
	}
	return ip, hlen
}

func (r *ICMPPingResponder) reply(ctx *core.Ctx, p *packet.Packet) bool {
	if ip, _ := echoHeader(p); ip == nil {
		return false
	}
	p.Writable(ctx.Pool)
	ip, hlen := echoHeader(p)
	var src [4]byte
	copy(src[:], ip[proto.IPOffSrc:])
	copy(ip[proto.IPOffSrc:proto.IPOffSrc+4], ip[proto.IPOffDst:proto.IPOffDst+4])
	copy(ip[proto.IPOffDst:], src[:])
	ip[proto.IPOffTTL] = 255
	proto.SetIPv4Checksum(ip)
	icmp := ip[hlen:]
	code := uint16(icmp[1])
	icmp[0] = proto.ICMPEchoReply
	proto.UpdateSum16(icmp[proto.ICMPOffSum:], proto.ICMPEcho<<8|code, proto.ICMPEchoReply<<8|code)
	p.Anno.DstIP = src
	return true
}

// Handlers exposes the counters.
func (r *ICMPPingResponder) Handlers() []core.Handler {
	return []core.Handler{
		core.ReadUint("count", &r.replies),
		core.ReadUint("drops", &r.others),
	}
}
