package middlebox

import (
	"bytes"
	"errors"
	"strconv"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
	"flowbox/appliance/proto"
)

// PayloadRewrite is an ALG-like TCP payload rewriter keeping per-flow
// sequence deltas.
type PayloadRewrite struct {
	core.Base
	counters
	find, repl []byte
	port       uint16
	flows      []rwFlow
	mask       uint64
	scratch    [packet.BufSize]byte
	noRoom     uint64
	replaced   uint64
}

// rwFlow is the sequence shift of one rewritten connection (Click's
// update_seqno_delta): data before trigger (sender's original space) keeps
// oldDelta, later data gets delta.
type rwFlow struct {
	key             flowKey
	used            bool
	delta, oldDelta int32
	trigger         uint32
}

func (f *rwFlow) newSeq(seq uint32) uint32 {
	if seqLess(seq, f.trigger) {
		return seq + uint32(f.oldDelta)
	}
	return seq + uint32(f.delta)
}

// newAck maps an acknowledgment (receiver's space) back to the sender's.
// The end of the rewritten data is trigger+delta in the receiver's space:
// an ack at or after it takes delta, one before it oldDelta. (Testing
// ack-oldDelta against trigger instead maps the ack of a segment that
// shrank to before its end: the sender never sees its data acknowledged.)
func (f *rwFlow) newAck(ack uint32) uint32 {
	if s := ack - uint32(f.delta); !seqLess(s, f.trigger) {
		return s
	}
	return ack - uint32(f.oldDelta)
}

func init() {
	core.Register(core.Class{
		Name: "PayloadRewrite", Ports: "1-2/=", Processing: "h/h", FlowCode: "x/x",
		New: func() core.Element { return new(PayloadRewrite) },
		Doc: core.Doc{
			Synopsis: "PayloadRewrite(FIND, REPLACE [, PORT, FLOWS])",
			Summary:  "rewrites TCP payload bytes like an ALG, keeping sequence numbers consistent",
			Description: `Models an application-level gateway (the FTP ALG rewriting the address in
PORT commands, a SIP ALG): in every forward TCP segment (input 0) every
non-overlapping occurrence of FIND in the payload is replaced by REPLACE.
Occurrences split across segments are not found.

When the payload length changes, the connection gets a sequence-number
delta, as Click's TCPRewriter/FTPPortMapper and Linux's nf_nat_helper do:
later forward segments have their sequence numbers shifted (data before the
rewritten segment's end keeps the previous shift, so retransmissions stay
consistent, and a retransmitted rewrite is not counted twice), and reverse
segments (input 1, optional) have their acknowledgment number and SACK
block edges shifted back. The deltas live in a fixed table of FLOWS
connections indexed by a hash of the addresses and ports; a colliding new
connection replaces the old one.

A rewritten segment gets its IP total length and both checksums computed in
full, grows into its tailroom (link padding is dropped), and is left
unchanged (counted in "noroom") when the result would not fit the buffer
or 65535 bytes. Sequence and acknowledgment shifts update the TCP checksum
incrementally (RFC 1624).

With PORT, only connections to TCP port PORT are rewritten (forward:
destination port; reverse: source port). Non-TCP packets and fragments
pass unchanged. Packets without a consistent IPv4 header annotation are
dropped and counted; TCP segments with an inconsistent data offset pass
unchanged and are counted as malformed.`,
			Ports: "input 0: forward packets, output 0: forward packets rewritten; " +
				"input 1 (optional): reverse packets, output 1: reverse packets with acknowledgments shifted",
			Args: []core.Item{
				{Name: "FIND", Text: "string (Click syntax: \"...\", \\<hex>), the bytes to find (mandatory, non-empty)"},
				{Name: "REPLACE", Text: "string, the replacement (mandatory, may be empty)"},
				{Name: "PORT", Text: "integer 0-65535, the server port (default 0: every connection)"},
				{Name: "FLOWS", Text: "integer, connections tracked (rounded up to a power of 2; default 1024)"},
			},
			Handlers: handlerDocs(
				core.Item{Name: "replaced", Text: "read: occurrences replaced"},
				core.Item{Name: "noroom", Text: "read: segments left unchanged for lack of room"},
				core.Item{Name: "flows", Text: "read: connections with a sequence delta"},
			),
			Example: "alg :: PayloadRewrite(\"PORT 10,0,0,1,\", \"PORT 192,0,2,100,\", PORT 21);\n" +
				"c2s -> CheckIPHeader -> [0]alg[0] -> out; s2c -> CheckIPHeader -> [1]alg[1] -> back;",
		},
	})
}

// Configure parses the arguments and sizes the flow table.
func (r *PayloadRewrite) Configure(a *core.Args) error {
	var find, repl string
	var gotRepl bool
	nflows := 1024
	if err := a.Parse(
		core.Pos("FIND", core.String(&find)).Required(),
		core.Pos("REPLACE", func(s string) error { gotRepl = true; return core.String(&repl)(s) }),
		core.Key("PORT", core.Uint16(&r.port)),
		core.Key("FLOWS", intIn(&nflows, 1, 1<<20, "flow count")),
	); err != nil {
		return err
	}
	if !gotRepl {
		return errors.New("REPLACE: required argument missing")
	}
	if find == "" {
		return errors.New("FIND: must not be empty")
	}
	r.find, r.repl = []byte(find), []byte(repl)
	n := 1
	for n < nflows {
		n <<= 1
	}
	r.flows = make([]rwFlow, n)
	r.mask = uint64(n - 1)
	return nil
}

func (r *PayloadRewrite) lookup(k flowKey) *rwFlow {
	f := &r.flows[k.hash(0)&r.mask]
	if f.used && f.key == k {
		return f
	}
	return nil
}

// Push rewrites a batch; port 0 is forward, port 1 reverse.
func (r *PayloadRewrite) Push(ctx *core.Ctx, port int, b *packet.Batch) {
	j := 0
	for i := 0; i < b.N; i++ {
		p := b.P[i]
		s, work, keep := classify(ctx, &r.Base, &r.counters, p)
		if !keep {
			continue
		}
		if work {
			if port == 0 {
				r.forward(ctx, p, s)
			} else {
				r.reverse(ctx, p, s)
			}
		}
		b.P[j] = p
		j++
	}
	clear(b.P[j:b.N])
	b.N = j
	r.Output(port).Push(ctx, b)
}

func (r *PayloadRewrite) forward(ctx *core.Ctx, p *packet.Packet, s seg) {
	if r.port != 0 && proto.U16(s.tcp, 2) != r.port {
		return
	}
	key := forwardKey(&s, false)
	f := r.lookup(key)
	n := bytes.Count(s.payload(), r.find)
	if n == 0 && f == nil {
		return
	}
	s = writableTCP(ctx, p)
	seq := proto.U32(s.tcp, proto.TCPOffSeq)
	plen := len(s.payload())
	grow := n * (len(r.repl) - len(r.find))
	netOff := p.NetworkOffset()
	payOff := netOff + s.hlen + s.thl
	if n > 0 && (s.total+grow > 65535 || plen+grow > len(r.scratch) || payOff+plen+grow > p.Len()+p.Tailroom()) {
		r.noRoom++
		n = 0
		if f == nil {
			return
		}
	}
	if n > 0 {
		out := r.scratch[:0]
		rest := s.payload()
		for {
			k := bytes.Index(rest, r.find)
			if k < 0 {
				break
			}
			out = append(out, rest[:k]...)
			out = append(out, r.repl...)
			rest = rest[k+len(r.find):]
		}
		out = append(out, rest...)
		p.SetLen(ctx.Pool, payOff+len(out))
		copy(p.Data()[payOff:], out)
		proto.Put16(p.Network(), proto.IPOffLen, uint16(s.total+grow))
		s, _ = parseTCP(p)
		r.replaced += uint64(n)
		if grow != 0 {
			f = r.account(key, f, seq+uint32(plen), int32(grow))
		}
	}
	modified := n > 0
	if f != nil {
		if ns := f.newSeq(seq); ns != seq {
			set32(s.tcp, proto.TCPOffSeq, tcpSum(&s), ns)
			modified = true
		}
	}
	if n > 0 {
		fixAllSums(&s)
	}
	if modified {
		r.changed++ // count: packets modified, not every segment of a tracked flow
	}
}

// account records a length change ending at sequence number end.
func (r *PayloadRewrite) account(key flowKey, f *rwFlow, end uint32, grow int32) *rwFlow {
	if f == nil {
		f = &r.flows[key.hash(0)&r.mask]
		*f = rwFlow{key: key, used: true, trigger: end}
	} else if !seqLess(f.trigger, end) {
		return f // a retransmission of data already accounted for
	}
	f.oldDelta = f.delta
	f.trigger = end
	f.delta += grow
	return f
}

func (r *PayloadRewrite) reverse(ctx *core.Ctx, p *packet.Packet, s seg) {
	if r.port != 0 && proto.U16(s.tcp, 0) != r.port {
		return
	}
	f := r.lookup(forwardKey(&s, true))
	if f == nil || f.delta == 0 && f.oldDelta == 0 {
		return
	}
	s = writableTCP(ctx, p)
	changed := false
	if s.flags()&proto.TCPAck != 0 {
		changed = set32(s.tcp, proto.TCPOffAck, tcpSum(&s), f.newAck(proto.U32(s.tcp, proto.TCPOffAck)))
	}
	for i := proto.TCPMinHeaderLen; i < s.thl; {
		k, n, ok := proto.NextTCPOption(s.tcp, i, s.thl)
		if !ok || k == optEOL {
			break
		}
		if k == optSACK {
			for e := i + 2; e+4 <= i+n; e += 4 {
				if set32(s.tcp, e, tcpSum(&s), f.newAck(proto.U32(s.tcp, e))) {
					changed = true
				}
			}
		}
		i += n
	}
	if changed {
		r.changed++
	}
}

// Handlers exposes the counters.
func (r *PayloadRewrite) Handlers() []core.Handler {
	return append([]core.Handler{
		core.ReadUint("replaced", &r.replaced),
		core.ReadUint("noroom", &r.noRoom),
		core.ReadOnly("flows", func() string {
			n := 0
			for i := range r.flows {
				if r.flows[i].used {
					n++
				}
			}
			return strconv.Itoa(n)
		}),
	}, r.counters.handlers(&r.Base)...)
}
