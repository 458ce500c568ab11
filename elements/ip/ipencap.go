package ip

import (
	"encoding/binary"
	"fmt"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
	"flowbox/appliance/proto"
)

// IPEncap prepends an IPv4 header built from its configuration.
type IPEncap struct {
	core.Base
	hdr     [20]byte // template: everything but length, ID, checksum (and DST with DST_ANNO)
	dstAnno bool
	id      uint16
}

func init() {
	core.Register(core.Class{
		Name: "IPEncap", Ports: "1/1", Processing: "a/a",
		New: func() core.Element { return new(IPEncap) },
		Doc: core.Doc{
			Synopsis: "IPEncap(PROTO, SRC, DST, [TTL, TOS, DSCP, ECT, CE, DF])",
			Summary:  "encapsulates packets in a static IP header",
			Description: `Prepends a 20-byte IPv4 header using the packet's headroom (no copy).
PROTO is a protocol number or name (icmp, igmp, ipip, tcp, udp, gre, ...).
DST is an address, or DST_ANNO to take each packet's destination-IP
annotation. The total length comes from the packet, the ID field counts up
per packet, and the checksum is computed. The network, transport and
destination-IP annotations are set to the new header. Packets without 20
bytes of headroom are dropped (counted).

TOS sets the whole TOS byte; DSCP then sets its upper six bits; ECT marks
ECN-capable transport (ECN 10) and CE congestion experienced (ECN 11).`,
			Ports: "input 0: any packets; output 0: IP packets",
			Args: []core.Item{
				{Name: "PROTO", Text: "IP protocol, number or name (mandatory)"},
				{Name: "SRC", Text: "IP address, the source (mandatory)"},
				{Name: "DST", Text: "IP address or DST_ANNO, the destination (mandatory)"},
				{Name: "TTL", Text: "integer, time to live (default 250)"},
				{Name: "TOS", Text: "integer, TOS byte (default 0)"},
				{Name: "DSCP", Text: "integer 0-63, DSCP (default: from TOS)"},
				{Name: "ECT", Text: "boolean, set ECN-capable transport (default false)"},
				{Name: "CE", Text: "boolean, set congestion experienced (default false)"},
				{Name: "DF", Text: "boolean, set don't fragment (default false)"},
			},
			Handlers: []core.Item{
				{Name: "src", Text: "read/write: the source address"},
				{Name: "dst", Text: "read/write: the destination address or DST_ANNO"},
				{Name: "drops", Text: "read: packets dropped for lack of headroom"},
			},
			Example: "IPEncap(ipip, 10.0.0.1, 10.0.0.2) -> EtherEncap(0x0800, 1:1:1:1:1:1, 2:2:2:2:2:2)",
		},
	})
}

// Configure parses the arguments and builds the header template.
func (e *IPEncap) Configure(a *core.Args) error {
	var (
		protoNum    uint8
		src, dst    [4]byte
		ttl         uint8 = 250
		tos         uint8
		dscp        = -1
		ect, ce, df bool
	)
	err := a.Parse(
		core.Pos("PROTO", protoValue(&protoNum)).Required(),
		core.Pos("SRC", addrValue(&src)).Required(),
		core.Pos("DST", dstValue(&dst, &e.dstAnno)).Required(),
		core.Key("TTL", core.Uint8(&ttl)),
		core.Key("TOS", core.Uint8(&tos)),
		core.Key("DSCP", core.Int(&dscp)),
		core.Key("ECT", core.Bool(&ect)),
		core.Key("CE", core.Bool(&ce)),
		core.Key("DF", core.Bool(&df)),
	)
	if err != nil {
		return err
	}
	if dscp > 63 {
		return fmt.Errorf("DSCP: must be between 0 and 63")
	}
	tos = composeTOS(tos, dscp, ect, ce)
	e.hdr = [20]byte{0: 0x45, 1: tos, 8: ttl, 9: protoNum}
	if df {
		binary.BigEndian.PutUint16(e.hdr[proto.IPOffFrag:], proto.IPFlagDF)
	}
	copy(e.hdr[proto.IPOffSrc:], src[:])
	copy(e.hdr[proto.IPOffDst:], dst[:])
	return nil
}

func composeTOS(tos uint8, dscp int, ect, ce bool) uint8 {
	if dscp >= 0 {
		tos = uint8(dscp)<<2 | tos&0x03
	}
	if ect {
		tos = tos&^0x03 | 0x02
	}
	if ce {
		tos |= 0x03
	}
	return tos
}

// Process encapsulates every packet of the batch.
func (e *IPEncap) Process(ctx *core.Ctx, b *packet.Batch) {
	j := 0
	for i := 0; i < b.N; i++ {
		p := b.P[i]
		if !e.encap(ctx, p) {
			e.Drop(ctx, p)
			continue
		}
		b.P[j] = p
		j++
	}
	clear(b.P[j:b.N])
	b.N = j
}

func (e *IPEncap) encap(ctx *core.Ctx, p *packet.Packet) bool {
	if p.Len()+20 > 0xffff || !p.Push(ctx.Pool, 20) {
		return false
	}
	ip := p.Writable(ctx.Pool)
	copy(ip, e.hdr[:])
	if e.dstAnno {
		copy(ip[proto.IPOffDst:], p.Anno.DstIP[:])
	}
	binary.BigEndian.PutUint16(ip[proto.IPOffLen:], uint16(len(ip)))
	binary.BigEndian.PutUint16(ip[proto.IPOffID:], e.id)
	e.id++
	binary.BigEndian.PutUint16(ip[proto.IPOffSum:], headerChecksum(ip[:20]))
	p.SetNetworkAt(0)
	p.SetTransportAt(20)
	copy(p.Anno.DstIP[:], ip[proto.IPOffDst:proto.IPOffDst+4])
	return true
}

// Handlers exposes the addresses and the drop count.
func (e *IPEncap) Handlers() []core.Handler {
	return []core.Handler{
		core.ReadWrite("src", func() string { return formatAddr([4]byte(e.hdr[12:16])) },
			func(s string) error { return addrValue((*[4]byte)(e.hdr[12:16]))(s) }),
		core.ReadWrite("dst", func() string { return formatDst([4]byte(e.hdr[16:20]), e.dstAnno) },
			func(s string) error { return dstValue((*[4]byte)(e.hdr[16:20]), &e.dstAnno)(s) }),
		core.ReadUint("drops", &e.Drops),
	}
}
