package middlebox

import (
	"fmt"
	"strconv"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
	"flowbox/appliance/proto"
)

// ChangeSeq shifts TCP sequence numbers, undoing the shift on the
// acknowledgments of the reverse direction.
type ChangeSeq struct {
	core.Base
	counters
	delta   int32
	random  bool
	fixSACK bool
	secret  uint64
}

func init() {
	core.Register(core.Class{
		Name: "ChangeSeq", Ports: "1-2/=", Processing: "h/h", FlowCode: "x/x",
		New: func() core.Element { return new(ChangeSeq) },
		Doc: core.Doc{
			Synopsis: "ChangeSeq([DELTA, RANDOM, FIX_SACK])",
			Summary:  "shifts TCP sequence numbers like a sequence-randomizing firewall",
			Description: `Models a box that randomizes initial sequence numbers (e.g. a Cisco ASA or
PIX). Input 0 carries the forward direction: every TCP segment's sequence
number is increased by the flow's delta and it leaves on output 0. Input 1
(optional) carries the reverse direction: when the ACK flag is set, the
acknowledgment number is decreased by the same delta and the segment leaves
on output 1, so both ends stay consistent.

The SACK blocks of reverse segments are left alone, as the real boxes
tracebox studied do: they then acknowledge sequence numbers the sender
never used, which is the bug tracebox detects. FIX_SACK true shifts the
SACK block edges back too (a correct box).

The delta is DELTA, or with RANDOM true a per-connection value derived
from the connection's addresses and ports with a secret drawn at
configuration time (no state is kept; both directions of a connection get
the same delta).

Checksums are updated incrementally (RFC 1624). Non-TCP packets and
fragments pass unchanged. Packets without a consistent IPv4 header
annotation are dropped and counted; TCP segments with an inconsistent data
offset pass unchanged and are counted as malformed; a malformed option
list ends the SACK walk.`,
			Ports: "input 0: forward packets, output 0: forward packets with shifted sequence numbers; " +
				"input 1 (optional): reverse packets, output 1: reverse packets with shifted acknowledgments",
			Args: []core.Item{
				{Name: "DELTA", Text: "integer, the shift (mod 2^32, may be negative; default 0)"},
				{Name: "RANDOM", Text: "boolean, use a per-connection pseudo-random delta instead (default false)"},
				{Name: "FIX_SACK", Text: "boolean, also shift reverse SACK block edges (default false)"},
			},
			Handlers: handlerDocs(
				core.Item{Name: "delta", Text: "read/write: DELTA"},
				core.Item{Name: "random", Text: "read: RANDOM"},
			),
			Example: "cs :: ChangeSeq(RANDOM true);\nin -> CheckIPHeader -> [0]cs[0] -> out;\nback -> CheckIPHeader -> [1]cs[1] -> toclient;",
		},
	})
}

// Configure parses the arguments.
func (c *ChangeSeq) Configure(a *core.Args) error {
	if err := a.Parse(
		core.Pos("DELTA", c.deltaValue),
		core.Key("RANDOM", core.Bool(&c.random)),
		core.Key("FIX_SACK", core.Bool(&c.fixSACK)),
	); err != nil {
		return err
	}
	if c.random {
		ctx := core.NewCtx(0, nil)
		c.secret = ctx.Rand() ^ uint64(randomSeed())
	}
	return nil
}

func (c *ChangeSeq) deltaValue(s string) error {
	v, err := strconv.ParseInt(s, 0, 64)
	if err != nil || v < -(1<<32-1) || v > 1<<32-1 {
		return fmt.Errorf("expected sequence delta, got %q", s)
	}
	c.delta = int32(uint32(v))
	return nil
}

// deltaFor returns the delta of the connection of s.
func (c *ChangeSeq) deltaFor(s *seg, reverse bool) uint32 {
	if !c.random {
		return uint32(c.delta)
	}
	return uint32(forwardKey(s, reverse).hash(c.secret))
}

// Push shifts a batch; port 0 is forward, port 1 reverse.
func (c *ChangeSeq) Push(ctx *core.Ctx, port int, b *packet.Batch) {
	j := 0
	for i := 0; i < b.N; i++ {
		p := b.P[i]
		s, work, keep := classify(ctx, &c.Base, &c.counters, p)
		if !keep {
			continue
		}
		if work {
			c.shift(ctx, p, s, port == 1)
		}
		b.P[j] = p
		j++
	}
	clear(b.P[j:b.N])
	b.N = j
	c.Output(port).Push(ctx, b)
}

func (c *ChangeSeq) shift(ctx *core.Ctx, p *packet.Packet, s seg, reverse bool) {
	d := c.deltaFor(&s, reverse)
	if d == 0 {
		return
	}
	if !reverse {
		s = writableTCP(ctx, p)
		set32(s.tcp, proto.TCPOffSeq, tcpSum(&s), proto.U32(s.tcp, proto.TCPOffSeq)+d)
		c.changed++
		return
	}
	if s.flags()&proto.TCPAck == 0 && !c.fixSACK {
		return
	}
	s = writableTCP(ctx, p)
	changed := false
	if s.flags()&proto.TCPAck != 0 {
		changed = set32(s.tcp, proto.TCPOffAck, tcpSum(&s), proto.U32(s.tcp, proto.TCPOffAck)-d)
	}
	if c.fixSACK && shiftSACK(&s, d) {
		changed = true
	}
	if changed {
		c.changed++
	}
}

// shiftSACK subtracts d from every SACK block edge of s.
func shiftSACK(s *seg, d uint32) bool {
	changed := false
	for i := proto.TCPMinHeaderLen; i < s.thl; {
		k, n, ok := proto.NextTCPOption(s.tcp, i, s.thl)
		if !ok || k == optEOL {
			break
		}
		if k == optSACK {
			for e := i + 2; e+4 <= i+n; e += 4 {
				if set32(s.tcp, e, tcpSum(s), proto.U32(s.tcp, e)-d) {
					changed = true
				}
			}
		}
		i += n
	}
	return changed
}

// Handlers exposes the delta and the counters.
func (c *ChangeSeq) Handlers() []core.Handler {
	return append([]core.Handler{
		core.ReadWrite("delta", func() string { return strconv.Itoa(int(c.delta)) }, c.deltaValue),
		core.ReadOnly("random", func() string { return boolText(c.random) }),
	}, c.counters.handlers(&c.Base)...)
}
