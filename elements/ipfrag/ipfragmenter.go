// Package ipfrag holds IPv4 fragmentation and reassembly: IPFragmenter and
// IPReassembler.
package ipfrag

import (
	"errors"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
	"flowbox/appliance/proto"
)

// IPFragmenter splits IPv4 packets longer than MTU into fragments.
type IPFragmenter struct {
	core.Base
	mtu       int
	honorDF   bool
	verbose   bool
	headroom  int
	fragments uint64 // fragments produced
	fragged   uint64 // packets that needed fragmenting
	dfDrops   uint64 // packets that could not be fragmented (output 1)
	malformed uint64
	// opts holds the "copied" options of the packet being fragmented; a
	// fixed array so that building later-fragment headers never allocates.
	opts    [40]byte
	optsLen int
}

func (f *IPFragmenter) Configure(a *core.Args) error {
	f.honorDF, f.headroom = true, packet.Headroom
	if err := a.Parse(
		core.Pos("MTU", core.Int(&f.mtu)).Required(),
		core.Key("HONOR_DF", core.Bool(&f.honorDF)),
		core.Key("VERBOSE", core.Bool(&f.verbose)),
		core.Key("HEADROOM", core.Int(&f.headroom)),
	); err != nil {
		return err
	}
	if f.mtu < proto.IPv4MinHeaderLen+8 || f.mtu > 65535 {
		return errors.New("MTU: must be between 28 and 65535")
	}
	if f.headroom < 0 || f.headroom > 1024 {
		return errors.New("HEADROOM: must be between 0 and 1024")
	}
	return nil
}

// ipv4Header validates p's IP header annotation and returns the header
// slice (through the end of the packet), header length and total length.
func ipv4Header(p *packet.Packet) (ip []byte, hl, total int, ok bool) {
	ip = p.Network()
	if len(ip) < proto.IPv4MinHeaderLen || ip[0]>>4 != 4 {
		return nil, 0, 0, false
	}
	hl = proto.IPv4HeaderLen(ip)
	total = int(proto.U16(ip, proto.IPOffLen))
	if hl < proto.IPv4MinHeaderLen || total < hl || total > len(ip) {
		return nil, 0, 0, false
	}
	return ip, hl, total, true
}

func (f *IPFragmenter) Push(ctx *core.Ctx, _ int, b *packet.Batch) {
	for _, p := range b.P[:b.N] {
		ip, hl, total, ok := ipv4Header(p)
		switch {
		case !ok:
			f.malformed++
			f.Drop(ctx, p)
		case total <= f.mtu:
			f.Emit(ctx, 0, p)
		default:
			f.fragment(ctx, p, ip[:total], hl)
		}
	}
	b.N = 0
	f.Flush(ctx)
}

// cannotFragment sends p to output 1 (usually ICMPError needfrag) or drops
// it when there is no output 1.
func (f *IPFragmenter) cannotFragment(ctx *core.Ctx, p *packet.Packet, ip []byte) {
	f.dfDrops++
	if f.verbose || f.dfDrops <= 5 {
		if r := f.Router(); r != nil {
			r.Logf(f, "DF %d.%d.%d.%d -> %d.%d.%d.%d len=%d mtu=%d", ip[12], ip[13], ip[14], ip[15],
				ip[16], ip[17], ip[18], ip[19], len(ip), f.mtu)
		}
	}
	if f.NOutputs() > 1 {
		f.Emit(ctx, 1, p)
		return
	}
	f.Drop(ctx, p)
}

// fragment trims p into the first fragment and emits it, then emits the
// later fragments as new packets, in order (as Click does). ip is p's IP
// datagram (link padding excluded).
func (f *IPFragmenter) fragment(ctx *core.Ctx, p *packet.Packet, ip []byte, hl int) {
	firstData := (f.mtu - hl) &^ 7
	if (proto.U16(ip, proto.IPOffFrag)&proto.IPFlagDF != 0 && f.honorDF) || firstData < 8 {
		f.cannotFragment(ctx, p, ip)
		return
	}
	if !f.collectCopiedOptions(ip[proto.IPv4MinHeaderLen:hl]) {
		f.malformed++
		f.Drop(ctx, p)
		return
	}
	netOff := p.NetworkOffset()
	data := p.Writable(ctx.Pool)
	ip = data[netOff : netOff+len(ip)]
	f.fragged++
	origFrag := proto.U16(ip, proto.IPOffFrag)
	// The first fragment is the original packet cut short, MF set. It may
	// leave (a full output batch is pushed) before the later fragments are
	// cut, so they are copied from a copy-on-write clone of the datagram;
	// the clone is freed before the final Flush, so the first fragment is
	// normally unshared again by the time anyone writes to it.
	proto.Put16(ip, proto.IPOffLen, uint16(hl+firstData))
	proto.Put16(ip, proto.IPOffFrag, origFrag|proto.IPFlagMF)
	proto.SetIPv4Checksum(ip)
	src := ctx.Pool.Clone(p) // its header fields are rewritten per fragment
	srcIP := src.Data()[netOff : netOff+len(ip)]
	p.SetLen(ctx.Pool, netOff+hl+firstData)
	f.Emit(ctx, 0, p)
	f.fragments++
	outHL := proto.IPv4MinHeaderLen + f.optsLen
	payload := srcIP[hl:]
	for off := firstData; off < len(payload); {
		n := (f.mtu - outHL) &^ 7
		if off+n > len(payload) {
			n = len(payload) - off
		}
		f.Emit(ctx, 0, f.laterFragment(ctx, src, srcIP, origFrag, payload[off:off+n], off, off+n == len(payload)))
		f.fragments++
		off += n
	}
	ctx.Pool.Free(src)
}

func (f *IPFragmenter) laterFragment(ctx *core.Ctx, orig *packet.Packet, ip []byte, frag uint16, chunk []byte, off int, last bool) *packet.Packet {
	outHL := proto.IPv4MinHeaderLen + f.optsLen
	q := f.newPacket(ctx, outHL+len(chunk))
	q.Anno = orig.Anno
	q.Anno.Mac, q.Anno.Trans = -1, -1
	q.SetNetworkAt(0)
	h := q.Data()
	copy(h, ip[:proto.IPv4MinHeaderLen])
	copy(h[proto.IPv4MinHeaderLen:], f.opts[:f.optsLen])
	copy(h[outHL:], chunk)
	h[0] = 0x40 | byte(outHL>>2)
	proto.Put16(h, proto.IPOffLen, uint16(outHL+len(chunk)))
	mf := frag & proto.IPFlagMF // the original's MF survives on its last piece
	if !last {
		mf = proto.IPFlagMF
	}
	offset := (frag & proto.IPFragOffMask) + uint16(off>>3)
	proto.Put16(h, proto.IPOffFrag, frag&proto.IPFlagDF|mf|offset)
	proto.SetIPv4Checksum(h)
	return q
}

// newPacket returns a packet of n bytes with HEADROOM bytes in front.
func (f *IPFragmenter) newPacket(ctx *core.Ctx, n int) *packet.Packet {
	if f.headroom <= packet.Headroom {
		return ctx.Pool.New(n)
	}
	extra := f.headroom - packet.Headroom
	q := ctx.Pool.New(extra + n)
	q.Pull(extra)
	return q
}

// collectCopiedOptions keeps the options whose "copied" bit is set (RFC
// 791: only those are repeated in later fragments), padded with EOL to a
// 4-byte multiple. It reports false for malformed option lists.
func (f *IPFragmenter) collectCopiedOptions(opts []byte) bool {
	n := 0
	for i := 0; i < len(opts); {
		t := opts[i]
		if t == 0 { // end of option list
			break
		}
		if t == 1 { // no-op: not copied
			i++
			continue
		}
		if i+1 >= len(opts) || opts[i+1] < 2 || i+int(opts[i+1]) > len(opts) {
			return false
		}
		l := int(opts[i+1])
		if t&0x80 != 0 {
			n += copy(f.opts[n:], opts[i:i+l])
		}
		i += l
	}
	for n%4 != 0 {
		f.opts[n] = 0
		n++
	}
	f.optsLen = n
	return true
}

func (f *IPFragmenter) Handlers() []core.Handler {
	return []core.Handler{
		core.ReadUint("drops", &f.dfDrops),
		core.ReadUint("fragments", &f.fragments),
		core.ReadUint("fragmented", &f.fragged),
		core.ReadUint("malformed", &f.malformed),
	}
}

func init() {
	core.Register(core.Class{
		Name: "IPFragmenter", Ports: "1/1-2", Processing: "h/h",
		New: func() core.Element { return new(IPFragmenter) },
		Doc: core.Doc{
			Synopsis: "IPFragmenter(MTU [, HONOR_DF, VERBOSE, HEADROOM])",
			Summary:  "fragments IPv4 packets longer than MTU",
			Description: "IPv4 datagrams (located by the IP header annotation, as set by CheckIPHeader or " +
				"MarkIPHeader) whose total length exceeds MTU are split into fragments of at most MTU bytes " +
				"with payloads in multiples of 8, emitted in order, first fragment first (as in Click). The first fragment is the original packet trimmed (link " +
				"header kept); later fragments are new packets holding only the IP header, with only the " +
				"options whose \"copied\" bit is set (RFC 791), and the payload piece. Every fragment gets " +
				"a correct header checksum; annotations are copied.\n\n" +
				"Packets with the don't-fragment bit (when HONOR_DF is true), or whose header leaves no room " +
				"for 8 bytes of data, go to output 1, usually an ICMPError(unreachable needfrag); with a " +
				"single output they are dropped. Packets without a valid IPv4 header annotation, or with a " +
				"malformed option list, are counted (malformed) and dropped.",
			Ports: "input 0: IPv4 packets with the IP header annotation (push)\n" +
				"output 0: packets within MTU and fragments\n" +
				"output 1 (optional): packets that may not or cannot be fragmented",
			Args: []core.Item{
				{Name: "MTU", Text: "integer, 28-65535: largest IP datagram (header included) to emit"},
				{Name: "HONOR_DF", Text: "boolean, default true: send DF packets to output 1 instead of fragmenting"},
				{Name: "VERBOSE", Text: "boolean, default false: log every DF packet (otherwise the first 5)"},
				{Name: "HEADROOM", Text: "integer, default 128: headroom of the new fragment packets"},
			},
			Handlers: []core.Item{
				{Name: "drops", Text: "read: packets sent to output 1 (or dropped) because they could not be fragmented"},
				{Name: "fragments", Text: "read: fragments emitted"},
				{Name: "fragmented", Text: "read: packets that were fragmented"},
				{Name: "malformed", Text: "read: packets dropped for a bad IP header or option list"},
			},
			Example: "... -> CheckIPHeader -> frag :: IPFragmenter(1500) -> Queue -> ToDevice(eth0);\n" +
				"frag[1] -> ICMPError(10.0.0.1, unreachable, needfrag) -> rt;",
		},
	})
}
