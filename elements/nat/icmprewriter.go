package nat

import (
	"fmt"
	"strings"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
	"flowbox/appliance/proto"
)

// ICMPRewriter translates ICMP error messages about rewritten flows: the
// quoted packet inside the error is put back to its original tuple and
// the error is readdressed to that packet's original sender, using the
// mappings of the rewriters named in MAPS.
type ICMPRewriter struct {
	core.Base
	names   []string
	maps    []*Rewriter
	dstAnno bool

	rewritten, unmatched, malformed uint64
}

func init() {
	core.Register(core.Class{
		Name: "ICMPRewriter", Ports: "1/1-2", Processing: "a/ah",
		New: func() core.Element { return &ICMPRewriter{dstAnno: true} },
		Doc: core.Doc{
			Synopsis: "ICMPRewriter(MAPS [, DST_ANNO])",
			Summary:  "rewrites ICMP error messages to match rewriter mappings",
			Description: `Translates ICMP errors (destination unreachable, source quench,
redirect, time exceeded, parameter problem) that quote a packet of a
flow rewritten by one of the elements in MAPS, a space-separated list
of IPRewriter, TCPRewriter, UDPRewriter or ICMPPingRewriter names.

An error quoting a rewritten packet reaches the rewritten address (for
NAPT: the box's outside address). ICMPRewriter looks the quoted tuple
up in each map's flow table, in order; a live mapping whose rewritten
tuple is the quoted one gives the packet's original tuple. Then:

  * the quoted IP header's addresses and the quoted TCP/UDP ports (or
    the ICMP echo identifier) are set back to the original tuple;
  * the outer destination becomes the quoted packet's original source
    (the host that sent it), and the outer source, when it was the
    quoted packet's destination, becomes its original destination;
  * the quoted IP header checksum, the quoted transport checksum (UDP
    unless 0; TCP when the quote is long enough to hold it; ICMP), the
    ICMP checksum and the outer IP checksum are updated incrementally,
    so a corrupted message stays corrupted;
  * with DST_ANNO (default true) the destination-IP annotation is set
    to the new outer destination.

Rewritten errors leave on output 0. Everything else (other ICMP types,
non-ICMP packets, fragments, errors that quote no known mapping) goes
to output 1 if it exists and is dropped otherwise; malformed errors
(quote shorter than an IP header plus 8 bytes) are counted too. Works
in both directions: errors from the outside about outgoing packets and
errors from inside hosts about translated incoming packets. TCP
sequence-number deltas of TCPRewriter are not undone in the quote.

The rewriters in MAPS must run on the same worker thread (be connected
to this element's part of the graph); their tables are read, never
changed.`,
			Ports: "Input 0: IPv4 packets (IP header at the network annotation or the start).\n" +
				"Output 0: rewritten ICMP errors. Output 1 (optional): the rest.",
			Args: []core.Item{
				{Name: "MAPS", Text: "space-separated rewriter element names"},
				{Name: "DST_ANNO", Text: "boolean: set the destination-IP annotation (true)"},
			},
			Handlers: []core.Item{
				{Name: "rewritten", Text: "ICMP errors translated"},
				{Name: "unmatched", Text: "packets that were not a translatable error (output 1 or dropped)"},
				{Name: "malformed", Text: "truncated ICMP errors (output 1 or dropped)"},
				{Name: "maps", Text: "the rewriters consulted"},
				{Name: "reset", Text: "zero the counters (w)"},
			},
			Example: `nat :: IPRewriter(pattern 192.0.2.1 1024-65535 - - 0 1, drop);
ping :: ICMPPingRewriter(pattern 192.0.2.1 - - - 0 1, drop);
wan -> IPClassifier(icmp type unreachable or icmp type timeexceeded)
    -> icmprw :: ICMPRewriter(nat ping) -> lan_out;
icmprw[1] -> Discard;`,
		},
	})
}

// Configure parses MAPS and DST_ANNO.
func (r *ICMPRewriter) Configure(a *core.Args) error {
	var maps string
	if err := a.Parse(core.Pos("MAPS", core.String(&maps)).Required(),
		core.Key("DST_ANNO", core.Bool(&r.dstAnno))); err != nil {
		return err
	}
	r.names = strings.Fields(maps)
	if len(r.names) == 0 {
		return fmt.Errorf("MAPS: no rewriter named")
	}
	return nil
}

// Resolve checks that MAPS names rewriters (before Initialize, so that
// `flowbox check` reports a wrong name).
func (r *ICMPRewriter) Resolve(rt core.Router) error {
	for _, n := range r.names {
		if _, err := r.rewriter(rt, n); err != nil {
			return err
		}
	}
	return nil
}

// Initialize resolves the rewriters.
func (r *ICMPRewriter) Initialize(rt core.Router) error {
	r.maps = r.maps[:0]
	for _, n := range r.names {
		o, err := r.rewriter(rt, n)
		if err != nil {
			return err
		}
		r.maps = append(r.maps, o.engine())
	}
	return nil
}

func (r *ICMPRewriter) rewriter(rt core.Router, name string) (rewriterOwner, error) {
	e := rt.Find(r, name)
	if e == nil {
		return nil, fmt.Errorf("MAPS: no element named %q", name)
	}
	o, ok := e.(rewriterOwner)
	if !ok {
		return nil, fmt.Errorf("MAPS: %s is %v", name, errNoRewriter)
	}
	return o, nil
}

// Process translates the batch in place; what is not translated moves to
// output 1 (or is dropped).
func (r *ICMPRewriter) Process(ctx *core.Ctx, b *packet.Batch) {
	n := 0
	for i := 0; i < b.N; i++ {
		p := b.P[i]
		switch r.translate(ctx, p) {
		case resOK:
			r.rewritten++
			b.P[n] = p
			n++
			continue
		case resMalformed:
			r.malformed++
		default:
			r.unmatched++
		}
		r.Reject(ctx, p)
	}
	clear(b.P[n:b.N])
	b.N = n
}

type icmpResult uint8

const (
	resOK icmpResult = iota
	resUnmatched
	resMalformed
)

// isICMPError reports whether an ICMP type quotes an offending packet.
func isICMPError(t uint8) bool {
	switch t {
	case proto.ICMPUnreachable, proto.ICMPSourceQuench, proto.ICMPRedirect,
		proto.ICMPTimeExceeded, proto.ICMPParamProblem:
		return true
	}
	return false
}

// quotedKey returns the flow key of the quoted packet inner (IP header
// length ihl, transport bytes l4).
func quotedKey(inner, l4 []byte) (FlowKey, bool) {
	k := FlowKey{Src: proto.U32(inner, proto.IPOffSrc), Dst: proto.U32(inner, proto.IPOffDst),
		Proto: inner[proto.IPOffProto]}
	switch k.Proto {
	case proto.ProtoTCP, proto.ProtoUDP:
		k.Sport, k.Dport = proto.U16(l4, 0), proto.U16(l4, 2)
		return k, true
	case proto.ProtoICMP:
		return pingKey(inner, l4)
	}
	return k, false
}

func (r *ICMPRewriter) translate(ctx *core.Ctx, p *packet.Packet) icmpResult {
	ip := ipHeader(p)
	if ip == nil || ip[proto.IPOffProto] != proto.ProtoICMP || proto.IsFragment(ip) {
		return resUnmatched
	}
	hl := int(ip[0]&0x0f) << 2
	icmp := ip[hl:]
	if len(icmp) < 8 || !isICMPError(icmp[0]) {
		return resUnmatched
	}
	inner := icmp[8:]
	if len(inner) < proto.IPv4MinHeaderLen || inner[0]>>4 != 4 {
		return resMalformed
	}
	ihl := int(inner[0]&0x0f) << 2
	if ihl < proto.IPv4MinHeaderLen || len(inner) < ihl+8 {
		return resMalformed
	}
	if !proto.IsFirstFragment(inner) {
		return resUnmatched
	}
	l4 := inner[ihl:]
	qk, ok := quotedKey(inner, l4)
	if !ok {
		return resUnmatched
	}
	// The quoted packet left with a rewritten tuple; packets answering it
	// arrive with the reverse, which is the other direction's key.
	rk := qk.Reverse().pack()
	var f *Flow
	dir := 0
	for _, m := range r.maps {
		if fi, d := m.table.lookup(rk); fi >= 0 {
			if c := m.table.Flow(fi); c.Expiry > ctx.Now {
				f, dir = c, d
				break
			}
		}
	}
	if f == nil {
		return resUnmatched
	}
	// Before touching bytes: unsharing moves the data.
	if p.Shared() {
		p.Writable(ctx.Pool)
		if ip = ipHeader(p); ip == nil {
			return resUnmatched
		}
		icmp = ip[hl:]
		inner = icmp[8:]
		l4 = inner[ihl:]
	}
	orig := &f.Key[1-dir] // the quoted packet's tuple before rewriting

	// Sum of the bytes that change inside the ICMP message, before and
	// after: the region starts at an even offset, so the difference is the
	// ICMP checksum's delta (RFC 1624).
	region := inner[:min(len(inner), ihl+20)]
	before := proto.Sum(region, 0)

	// Quoted IP header.
	ipd := wordDelta(0, qk.Src, orig.Src)
	ipd = wordDelta(ipd, qk.Dst, orig.Dst)
	proto.Put32(inner, proto.IPOffSrc, orig.Src)
	proto.Put32(inner, proto.IPOffDst, orig.Dst)
	addToSum(inner[proto.IPOffSum:], fold(ipd))

	// Quoted transport header.
	switch qk.Proto {
	case proto.ProtoTCP, proto.ProtoUDP:
		d := ipd + uint32(^qk.Sport) + uint32(orig.Sport) + uint32(^qk.Dport) + uint32(orig.Dport)
		proto.Put16(l4, 0, orig.Sport)
		proto.Put16(l4, 2, orig.Dport)
		if qk.Proto == proto.ProtoUDP {
			if proto.U16(l4, proto.UDPOffSum) != 0 {
				addToSum(l4[proto.UDPOffSum:], fold(d))
				if proto.U16(l4, proto.UDPOffSum) == 0 {
					proto.Put16(l4, proto.UDPOffSum, 0xffff)
				}
			}
		} else if len(l4) >= proto.TCPOffSum+2 {
			addToSum(l4[proto.TCPOffSum:], fold(d))
		}
	case proto.ProtoICMP:
		oldID, id := proto.U16(l4, 4), orig.Sport
		if l4[0] == proto.ICMPEchoReply {
			id = orig.Dport
		}
		proto.Put16(l4, 4, id)
		addToSum(l4[proto.ICMPOffSum:], fold(uint32(^oldID)+uint32(id)))
	}
	after := proto.Sum(region, 0)
	addToSum(icmp[proto.ICMPOffSum:], fold(fold(before)^0xffff+fold(after)))

	// Outer header: to the quoted packet's original sender; from its
	// original destination if the error came from that host.
	oldSrc, oldDst := proto.U32(ip, proto.IPOffSrc), proto.U32(ip, proto.IPOffDst)
	newSrc, newDst := oldSrc, orig.Src
	if oldSrc == qk.Dst {
		newSrc = orig.Dst
	}
	proto.Put32(ip, proto.IPOffSrc, newSrc)
	proto.Put32(ip, proto.IPOffDst, newDst)
	addToSum(ip[proto.IPOffSum:], fold(wordDelta(wordDelta(0, oldSrc, newSrc), oldDst, newDst)))
	if r.dstAnno {
		p.Anno.DstIP = [4]byte{byte(newDst >> 24), byte(newDst >> 16), byte(newDst >> 8), byte(newDst)}
	}
	return resOK
}

// Handlers lists the counters.
func (r *ICMPRewriter) Handlers() []core.Handler {
	return []core.Handler{
		core.ReadUint("rewritten", &r.rewritten),
		core.ReadUint("unmatched", &r.unmatched),
		core.ReadUint("malformed", &r.malformed),
		core.ReadOnly("maps", func() string { return strings.Join(r.names, " ") }),
		core.Action("reset", func() { r.rewritten, r.unmatched, r.malformed = 0, 0, 0 }),
	}
}

// TakeState keeps the counters across a hot reconfiguration.
func (r *ICMPRewriter) TakeState(old core.Element) {
	if o, ok := old.(*ICMPRewriter); ok {
		r.rewritten, r.unmatched, r.malformed = o.rewritten, o.unmatched, o.malformed
	}
}
