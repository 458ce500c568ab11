package nat

import (
	"errors"
	"net/netip"
	"strings"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
	"flowbox/appliance/proto"
)

// modePing is the Rewriter mode of ICMPPingRewriter: only ICMP echo
// requests and replies are mapped.
const modePing mode = 3

// ICMPPingRewriter is Click's NAT for ICMP echo: it rewrites the addresses
// and the echo identifier of echo requests as its input specs say and
// installs a reply mapping, so echo replies are rewritten back.
//
// Flow keys: an echo request with identifier ID is keyed (SRC, ID, DST, 0),
// an echo reply (SRC, 0, DST, ID). The reply mapping of a request rewritten
// to (SRC', ID', DST, 0) is then (DST, 0, SRC', ID'), exactly the key of
// the echo replies that come back, so the shared FlowTable and Rewriter
// engine (patterns, timeouts, reaping, handlers, hot-reload state) serve
// ICMP echo unchanged. The pattern's SPORT field is the identifier range;
// DPORT is ignored.
type ICMPPingRewriter struct {
	Rewriter
	legacy bool // ICMPPingRewriter(SRC, DST): unmapped packets to output 1
}

func init() {
	core.Register(core.Class{
		Name: "ICMPPingRewriter", Ports: "1-/1-", Processing: "h/h",
		New: func() core.Element { r := new(ICMPPingRewriter); r.mode = modePing; return r },
		Doc: core.Doc{
			Synopsis: "ICMPPingRewriter(INPUTSPEC1, ..., INPUTSPECn [, KEYWORDS])\nICMPPingRewriter(SRC, DST)",
			Summary:  "rewrites ICMP echo requests and replies (NAT for ping)",
			Description: `Network address translation for ICMP echo (ping). Echo requests are
mapped like IPRewriter maps TCP/UDP flows: input port i is governed by
INPUTSPEC i, with IPRewriter's syntax (drop, pass OUT, keep FOUT ROUT,
pattern SADDR SPORT DADDR DPORT FOUT ROUT, pattern SADDR DADDR FOUT ROUT).
For ping, SPORT is the echo identifier: '-' keeps it, a range L-H
chooses a free identifier (the packet's own first, '#' sequential, '?'
random). DPORT is ignored (pings have no destination port).

An echo request that matches no mapping gets one from its input's spec:
its source address and identifier (and destination, if the pattern says
so) are rewritten and it leaves on FOUT. Echo replies addressed to the
rewritten source and identifier match the reply mapping, are rewritten
back to the original host and identifier and leave on ROUT. A request
that matches an existing mapping (on any input) is rewritten the same
way. Echo replies without a mapping, other ICMP types, other protocols
and fragments (first fragments too: a fragmented echo cannot be
translated, its later fragments carry no identifier) are passed
unchanged by a 'pass' spec and dropped otherwise (the legacy form sends
them to output 1 if it exists).

The legacy form ICMPPingRewriter(SRC, DST) (one input) is the spec
'pattern SRC - DST - 0 0'; either may be '-'.

The IP header checksum and the ICMP checksum are updated incrementally and
the destination-IP annotation is set. Mappings use UDP_TIMEOUT (5min),
then UDP_STREAMING_TIMEOUT once a reply has been seen, and are reaped
like IPRewriter's. Use ICMPRewriter(NAME) to translate ICMP errors that
quote rewritten echo packets (e.g. a traceroute's time exceeded).`,
			Ports: "Inputs: IPv4 packets, one INPUTSPEC each (push).\n" +
				"Outputs: as the specs and mappings name them (push).",
			Args: []core.Item{
				{Name: "INPUTSPEC", Text: "one per input, IPRewriter syntax; SPORT = echo identifier"},
				{Name: "UDP_TIMEOUT", Text: "idle timeout of a ping mapping (5min)"},
				{Name: "UDP_STREAMING_TIMEOUT", Text: "timeout once replies flow (UDP_TIMEOUT)"},
				{Name: "REAP_INTERVAL", Text: "how often expired mappings are freed (15s)"},
				{Name: "MAPPING_CAPACITY", Text: "most mappings held, preallocated (65536)"},
			},
			Handlers: []core.Item{
				{Name: "table_size", Text: "number of live mappings"},
				{Name: "table", Text: "mappings, both directions: (SRC, ID, DST, 0) => (SRC', ID', DST, 0)"},
				{Name: "icmp_table", Text: "same as table"},
				{Name: "mapping_failures", Text: "new mappings refused (identifiers exhausted, table full)"},
				{Name: "malformed", Text: "packets dropped as malformed"},
				{Name: "patterns", Text: "input specs, with their live mapping counts"},
				{Name: "capacity", Text: "MAPPING_CAPACITY (rw; writing rebuilds the table)"},
				{Name: "clear", Text: "remove every mapping (w)"},
			},
			Example: `ping :: ICMPPingRewriter(pattern 192.0.2.1 1024-65535 - - 0 1, drop);
lan -> IPClassifier(icmp type echo) -> [0]ping;     // requests from the LAN
wan -> IPClassifier(icmp type echo-reply) -> [1]ping;
ping[0] -> wan_out;  ping[1] -> lan_out;`,
		},
	})
}

// Configure accepts IPRewriter's arguments, or the legacy (SRC, DST).
func (r *ICMPPingRewriter) Configure(a *core.Args) error {
	if raw := a.Raw(); len(raw) == 2 && r.NInputs() == 1 && addrOrDash(raw[0]) && addrOrDash(raw[1]) {
		r.legacy = true
		a = core.NewArgs("pattern " + raw[0] + " - " + raw[1] + " - 0 0")
	}
	if err := r.Rewriter.Configure(a); err != nil {
		return err
	}
	for i := range r.specs {
		p := &r.specs[i].Pattern
		p.KeepDport, p.Dport = true, 0 // pings have no destination port
	}
	return nil
}

func addrOrDash(s string) bool {
	s = strings.TrimSpace(s)
	if s == "-" {
		return true
	}
	a, err := netip.ParseAddr(s)
	return err == nil && a.Is4()
}

// Push rewrites a batch that arrived on input port.
func (r *ICMPPingRewriter) Push(ctx *core.Ctx, port int, b *packet.Batch) {
	r.now = ctx.Now
	spec := &r.specs[port]
	n := 0
	for i := 0; i < b.N; i++ {
		p := b.P[i]
		out, ok := r.handlePing(ctx, spec, port, p)
		if !ok {
			continue
		}
		b.P[n] = p
		r.outs[n] = out
		n++
	}
	clear(b.P[n:b.N])
	b.N = n
	r.send(ctx, b)
}

// pingKey returns the flow key of an ICMP echo request or reply and
// whether the message is one.
func pingKey(ip, icmp []byte) (FlowKey, bool) {
	k := FlowKey{Src: proto.U32(ip, proto.IPOffSrc), Dst: proto.U32(ip, proto.IPOffDst), Proto: proto.ProtoICMP}
	id := proto.U16(icmp, 4)
	switch icmp[0] {
	case proto.ICMPEcho:
		k.Sport = id
	case proto.ICMPEchoReply:
		k.Dport = id
	default:
		return k, false
	}
	return k, icmp[1] == 0
}

func (r *ICMPPingRewriter) handlePing(ctx *core.Ctx, spec *InputSpec, port int, p *packet.Packet) (uint16, bool) {
	p.Writable(ctx.Pool)
	ip := ipHeader(p)
	if ip == nil {
		return r.dropMalformed(ctx, p)
	}
	hl := int(ip[0]&0x0f) << 2
	if ip[proto.IPOffProto] != proto.ProtoICMP || proto.IsFragment(ip) {
		return r.unmappedPing(ctx, spec, p)
	}
	icmp := ip[hl:]
	if len(icmp) < 8 {
		return r.dropMalformed(ctx, p)
	}
	key, ok := pingKey(ip, icmp)
	if !ok {
		return r.unmappedPing(ctx, spec, p)
	}
	request := icmp[0] == proto.ICMPEcho
	fi, dir := r.table.lookup(key.pack())
	if fi >= 0 && r.table.Flow(fi).Expiry <= ctx.Now {
		r.removeFlow(fi)
		fi = -1
	}
	// A request must travel forward and a reply back (an identifier of 0
	// could otherwise make a request look like a reply).
	if fi >= 0 && (dir == DirForward) != request {
		fi = -1
	}
	if fi < 0 {
		if !request || spec.Kind == SpecPass || spec.Kind == SpecDrop {
			return r.unmappedPing(ctx, spec, p)
		}
		if fi = r.newFlow(ctx, spec, port, key); fi < 0 {
			r.failures++
			r.Drop(ctx, p)
			return 0, false
		}
		dir = DirForward
	}
	f := r.table.Flow(fi)
	rewritePing(f, dir, request, ip, icmp, p)
	r.refresh(f, dir, icmp, ctx.Now)
	return f.Output[dir], true
}

func (r *ICMPPingRewriter) unmappedPing(ctx *core.Ctx, spec *InputSpec, p *packet.Packet) (uint16, bool) {
	if r.legacy && r.NOutputs() > 1 {
		return 1, true
	}
	return r.unmapped(ctx, spec, p)
}

// rewritePing sets the addresses and identifier of direction dir's
// outgoing tuple and patches both checksums.
func rewritePing(f *Flow, dir int, request bool, ip, icmp []byte, p *packet.Packet) {
	back := &f.Key[1-dir]
	proto.Put32(ip, proto.IPOffSrc, back.Dst)
	proto.Put32(ip, proto.IPOffDst, back.Src)
	addToSum(ip[proto.IPOffSum:], f.delta(dir, false))
	p.Anno.DstIP = [4]byte{byte(back.Src >> 24), byte(back.Src >> 16), byte(back.Src >> 8), byte(back.Src)}
	// The outgoing tuple is back reversed: a request carries its
	// identifier as the source port, a reply as the destination port.
	id := back.Sport
	if request {
		id = back.Dport
	}
	if old := proto.U16(icmp, 4); old != id {
		proto.Put16(icmp, 4, id)
		addToSum(icmp[2:], fold(uint32(^old)+uint32(id)))
	}
}

// Handlers lists the rewriter handlers with the ICMP table in place of
// the TCP/UDP ones.
func (r *ICMPPingRewriter) Handlers() []core.Handler {
	var hs []core.Handler
	for _, h := range r.Rewriter.Handlers() {
		switch h.Name {
		case "tcp_table", "udp_table", "table":
			continue
		}
		hs = append(hs, h)
	}
	dump := func() string { return r.dump(proto.ProtoICMP) }
	return append(hs, core.ReadOnly("table", dump), core.ReadOnly("icmp_table", dump))
}

var errNoRewriter = errors.New("not a rewriter element (IPRewriter, TCPRewriter, UDPRewriter, ICMPPingRewriter)")
