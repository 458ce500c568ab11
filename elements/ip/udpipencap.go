package ip

import (
	"encoding/binary"
	"strconv"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
	"flowbox/appliance/proto"
)

const udpIPHeaderLen = 20 + proto.UDPHeaderLen

// UDPIPEncap prepends UDP and IPv4 headers.
type UDPIPEncap struct {
	core.Base
	hdr      [udpIPHeaderLen]byte // template: addresses, ports, TTL, protocol
	dstAnno  bool
	checksum bool
	id       uint16
}

func init() {
	core.Register(core.Class{
		Name: "UDPIPEncap", Ports: "1/1", Processing: "a/a",
		New: func() core.Element { return &UDPIPEncap{checksum: true} },
		Doc: core.Doc{
			Synopsis: "UDPIPEncap(SRC, SPORT, DST, DPORT [, CHECKSUM])",
			Summary:  "encapsulates packets in static UDP/IP headers",
			Description: `Prepends a 20-byte IPv4 header and an 8-byte UDP header using the
packet's headroom (no copy). DST is an address or DST_ANNO (each packet's
destination-IP annotation). The IP header gets TTL 250, a per-packet
counting ID and its checksum; the UDP checksum is computed over the payload
unless CHECKSUM is false (then it is 0). The network, transport and
destination-IP annotations are set. Packets without headroom, or too
long for a UDP datagram, are dropped (counted).`,
			Ports: "input 0: payloads; output 0: UDP/IP packets",
			Args: []core.Item{
				{Name: "SRC", Text: "IP address, the source (mandatory)"},
				{Name: "SPORT", Text: "integer, the UDP source port (mandatory)"},
				{Name: "DST", Text: "IP address or DST_ANNO, the destination (mandatory)"},
				{Name: "DPORT", Text: "integer, the UDP destination port (mandatory)"},
				{Name: "CHECKSUM", Text: "boolean, compute the UDP checksum (default true)"},
			},
			Handlers: []core.Item{
				{Name: "src", Text: "read/write: source address"},
				{Name: "sport", Text: "read/write: source port"},
				{Name: "dst", Text: "read/write: destination address or DST_ANNO"},
				{Name: "dport", Text: "read/write: destination port"},
				{Name: "drops", Text: "read: packets dropped"},
			},
			Example: "InfiniteSource(LENGTH 64) -> UDPIPEncap(10.0.0.1, 1234, 10.0.0.2, 5678) -> ...",
		},
	})
}

// Configure parses the arguments and builds the header template.
func (u *UDPIPEncap) Configure(a *core.Args) error {
	u.hdr = [udpIPHeaderLen]byte{0: 0x45, 8: 250, 9: proto.ProtoUDP}
	return a.Parse(
		core.Pos("SRC", addrValue((*[4]byte)(u.hdr[12:16]))).Required(),
		core.Pos("SPORT", u.portValue(20)).Required(),
		core.Pos("DST", dstValue((*[4]byte)(u.hdr[16:20]), &u.dstAnno)).Required(),
		core.Pos("DPORT", u.portValue(22)).Required(),
		core.Pos("CHECKSUM", core.Bool(&u.checksum)),
	)
}

func (u *UDPIPEncap) portValue(off int) core.Value {
	return func(s string) error {
		var v uint16
		if err := core.Uint16(&v)(s); err != nil {
			return err
		}
		binary.BigEndian.PutUint16(u.hdr[off:], v)
		return nil
	}
}

// Process encapsulates every packet of the batch.
func (u *UDPIPEncap) Process(ctx *core.Ctx, b *packet.Batch) {
	j := 0
	for i := 0; i < b.N; i++ {
		p := b.P[i]
		if !u.encap(ctx, p) {
			u.Drop(ctx, p)
			continue
		}
		b.P[j] = p
		j++
	}
	clear(b.P[j:b.N])
	b.N = j
}

func (u *UDPIPEncap) encap(ctx *core.Ctx, p *packet.Packet) bool {
	if p.Len()+udpIPHeaderLen > 0xffff || !p.Push(ctx.Pool, udpIPHeaderLen) {
		return false
	}
	ip := p.Writable(ctx.Pool)
	copy(ip, u.hdr[:])
	if u.dstAnno {
		copy(ip[proto.IPOffDst:], p.Anno.DstIP[:])
	}
	binary.BigEndian.PutUint16(ip[proto.IPOffLen:], uint16(len(ip)))
	binary.BigEndian.PutUint16(ip[proto.IPOffID:], u.id)
	u.id++
	binary.BigEndian.PutUint16(ip[proto.IPOffSum:], headerChecksum(ip[:20]))
	udp := ip[20:]
	binary.BigEndian.PutUint16(udp[proto.UDPOffLen:], uint16(len(udp)))
	if u.checksum {
		proto.SetTransportChecksum(ip, udp, proto.ProtoUDP, proto.UDPOffSum)
	}
	p.SetNetworkAt(0)
	p.SetTransportAt(20)
	copy(p.Anno.DstIP[:], ip[proto.IPOffDst:proto.IPOffDst+4])
	return true
}

// Handlers exposes addresses and ports.
func (u *UDPIPEncap) Handlers() []core.Handler {
	port := func(off int) func() string {
		return func() string { return strconv.Itoa(int(binary.BigEndian.Uint16(u.hdr[off:]))) }
	}
	return []core.Handler{
		core.ReadWrite("src", func() string { return formatAddr([4]byte(u.hdr[12:16])) },
			addrValue((*[4]byte)(u.hdr[12:16]))),
		core.ReadWrite("sport", port(20), u.portValue(20)),
		core.ReadWrite("dst", func() string { return formatDst([4]byte(u.hdr[16:20]), u.dstAnno) },
			dstValue((*[4]byte)(u.hdr[16:20]), &u.dstAnno)),
		core.ReadWrite("dport", port(22), u.portValue(22)),
		core.ReadUint("drops", &u.Drops),
	}
}
