package middlebox

import (
	"bytes"
	"fmt"
	"time"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
	"flowbox/appliance/proto"
)

// Coalesce merges consecutive in-order TCP segments of one flow.
type Coalesce struct {
	core.Base
	counters
	size    int
	timeout time.Duration
	timer   *core.Timer
	pending *packet.Packet
	merged  bool // pending holds merged payload (sums to recompute)
	joined  uint64
	expired uint64
}

func init() {
	core.Register(core.Class{
		Name: "Coalesce", Ports: "1/1", Processing: "h/h",
		New: func() core.Element { return &Coalesce{timeout: 10 * time.Millisecond} },
		Doc: core.Doc{
			Synopsis: "Coalesce(SIZE [, TIMEOUT])",
			Summary:  "merges consecutive in-order TCP segments of a flow",
			Description: `Models a box that coalesces TCP segments (a proxy, LRO/GRO on a
forwarding host). A data segment (flags ACK or ACK+PSH, payload of 1 to
SIZE-1 bytes) is held back; the segments that follow it directly in the
input are appended to it while they belong to the same flow (addresses,
ports), continue it in sequence (seq = held seq + held payload), carry the
same acknowledgment number, the same IP and TCP option bytes, the flags ACK
or ACK+PSH, and the merged payload stays within SIZE bytes and the
packet's buffer. The merged segment takes the latest window and PSH; its
IP total length and both checksums are computed in full.

The held segment leaves when a packet that does not continue it arrives
(before that packet, so order is kept), when it reaches SIZE bytes or gets
PSH, or TIMEOUT after it was first held (a core.Timer). Only one segment is
held at a time: interleaved flows are not merged. Link padding of a held
segment is dropped. A segment still held at the end of a run is freed
(counted in "drops").

Other packets pass unchanged, in order. Packets without a consistent IPv4
header annotation are dropped and counted; TCP segments with an
inconsistent data offset pass unchanged and are counted as malformed.`,
			Ports: "input 0 (push): annotated IP packets; output 0 (push): the same traffic, coalesced",
			Args: []core.Item{
				{Name: "SIZE", Text: "integer 2-65495, the largest merged payload (mandatory)"},
				{Name: "TIMEOUT", Text: "duration, longest hold of a segment (default 10ms)"},
			},
			Handlers: handlerDocs(
				core.Item{Name: "joined", Text: "read: segments appended to a held segment"},
				core.Item{Name: "expired", Text: "read: held segments released by the timer"},
			),
			Example: "CheckIPHeader -> Coalesce(4000, TIMEOUT 5ms) -> ...",
		},
	})
}

// Configure parses the arguments.
func (c *Coalesce) Configure(a *core.Args) error {
	if err := a.Parse(
		core.Pos("SIZE", intIn(&c.size, 2, 65495, "size")).Required(),
		core.Pos("TIMEOUT", core.Duration(&c.timeout)),
	); err != nil {
		return err
	}
	if c.timeout <= 0 {
		return fmt.Errorf("TIMEOUT: must be positive")
	}
	return nil
}

// Initialize registers the flush timer.
func (c *Coalesce) Initialize(r core.Router) error {
	c.timer = core.NewTimer(func(ctx *core.Ctx) {
		if c.pending != nil {
			c.expired++
			c.release(ctx)
			c.Flush(ctx)
		}
	})
	r.AddTimer(c, c.timer)
	return nil
}

// candidate reports whether s may be held or appended.
func (c *Coalesce) candidate(s *seg) bool {
	f := s.flags()
	return f&^proto.TCPPsh == proto.TCPAck && len(s.payload()) > 0 && len(s.payload()) < c.size
}

// Push coalesces a batch.
func (c *Coalesce) Push(ctx *core.Ctx, _ int, b *packet.Batch) {
	for i := 0; i < b.N; i++ {
		p := b.P[i]
		b.P[i] = nil
		s, work, keep := classify(ctx, &c.Base, &c.counters, p)
		if !keep {
			continue
		}
		if !work || !c.candidate(&s) {
			c.release(ctx)
			c.Emit(ctx, 0, p)
			continue
		}
		if c.pending != nil && c.append(ctx, p, &s) {
			continue
		}
		c.release(ctx)
		c.hold(ctx, p, &s)
	}
	b.N = 0
	c.Flush(ctx)
}

// hold makes p the held segment.
func (c *Coalesce) hold(ctx *core.Ctx, p *packet.Packet, s *seg) {
	p.SetLen(ctx.Pool, p.NetworkOffset()+s.total) // drop link padding
	c.pending, c.merged = p, false
	if s.flags()&proto.TCPPsh != 0 {
		c.release(ctx)
		return
	}
	now := ctx.Now
	if now == 0 {
		now = time.Now().UnixNano()
	}
	c.timer.ScheduleAt(now + int64(c.timeout))
}

// append merges p into the held segment if it continues it.
func (c *Coalesce) append(ctx *core.Ctx, p *packet.Packet, s *seg) bool {
	h, v := parseTCP(c.pending)
	if v != vTCP || p.NetworkOffset() != c.pending.NetworkOffset() || h.hlen != s.hlen || h.thl != s.thl ||
		!bytes.Equal(h.ip[proto.IPOffSrc:proto.IPOffSrc+8], s.ip[proto.IPOffSrc:proto.IPOffSrc+8]) ||
		!bytes.Equal(h.ip[proto.IPv4MinHeaderLen:h.hlen], s.ip[proto.IPv4MinHeaderLen:s.hlen]) ||
		!bytes.Equal(h.tcp[:4], s.tcp[:4]) ||
		proto.U32(h.tcp, proto.TCPOffAck) != proto.U32(s.tcp, proto.TCPOffAck) ||
		!bytes.Equal(h.tcp[proto.TCPMinHeaderLen:h.thl], s.tcp[proto.TCPMinHeaderLen:s.thl]) {
		return false
	}
	hp, sp := len(h.payload()), len(s.payload())
	if proto.U32(h.tcp, proto.TCPOffSeq)+uint32(hp) != proto.U32(s.tcp, proto.TCPOffSeq) ||
		hp+sp > c.size || c.pending.Tailroom() < sp {
		return false
	}
	q := c.pending
	n := q.Len()
	q.Put(ctx.Pool, sp) // unshares a cloned held segment
	copy(q.Data()[n:], s.payload())
	h, _ = parseTCP(q) // the old total length still fits
	proto.Put16(h.ip, proto.IPOffLen, uint16(h.total+sp))
	h, _ = parseTCP(q)
	proto.Put16(h.tcp, proto.TCPOffWin, proto.U16(s.tcp, proto.TCPOffWin))
	h.tcp[proto.TCPOffFlags] |= s.flags() & proto.TCPPsh
	c.merged = true
	c.joined++
	ctx.Pool.Free(p)
	if hp+sp >= c.size || h.flags()&proto.TCPPsh != 0 {
		c.release(ctx)
	}
	return true
}

// release emits the held segment, fixing its checksums if it grew.
func (c *Coalesce) release(ctx *core.Ctx) {
	p := c.pending
	if p == nil {
		return
	}
	c.pending = nil
	c.timer.Unschedule()
	if c.merged {
		if s, v := parseTCP(p); v == vTCP {
			fixAllSums(&s)
		}
		c.changed++
		c.merged = false
	}
	c.Emit(ctx, 0, p)
}

// Cleanup frees a segment still held.
func (c *Coalesce) Cleanup(ctx *core.Ctx) {
	if c.pending != nil {
		c.Drop(ctx, c.pending)
		c.pending = nil
	}
}

// Handlers exposes the counters and a flush action.
func (c *Coalesce) Handlers() []core.Handler {
	return append([]core.Handler{
		core.ReadUint("joined", &c.joined),
		core.ReadUint("expired", &c.expired),
	}, c.counters.handlers(&c.Base)...)
}
