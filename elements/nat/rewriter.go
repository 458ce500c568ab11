package nat

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"flowbox/appliance/core"
	"flowbox/appliance/flowtable"
	"flowbox/appliance/packet"
	"flowbox/appliance/proto"
)

// mode selects which of the three rewriter classes a Rewriter implements.
type mode uint8

const (
	modeIP  mode = iota // TCP and UDP, each with its own timeouts
	modeTCP             // TCP only, plus sequence-number deltas
	modeUDP             // TCP and UDP, all with UDP timeouts
)

// Defaults (Click's values).
const (
	defaultCapacity     = 65536
	defaultTCPTimeout   = 24 * time.Hour
	defaultTCPDone      = 4 * time.Minute
	defaultTCPNoData    = 5 * time.Minute
	defaultUDPTimeout   = 5 * time.Minute
	defaultReapInterval = 15 * time.Second
	// fullReapGap bounds how often a full table triggers an early reap, so
	// a flood of new flows cannot turn every packet into a table scan.
	fullReapGap = int64(time.Second)
)

// Rewriter is the engine shared by IPRewriter, TCPRewriter and UDPRewriter:
// input specs, the flow table, timeouts and handlers. It is exported so ALG
// elements and the verifier can reach the flow table.
type Rewriter struct {
	core.Base
	mode  mode
	specs []InputSpec
	table *FlowTable

	perInput  []uint64 // live flows created by each input
	failures  uint64   // new flows refused (range exhausted, table full)
	malformed uint64   // packets dropped as malformed

	tcpTimeout, tcpDone, tcpNoData int64
	udpTimeout, udpStreaming       int64
	reapInterval                   int64
	capacity                       int

	timer        *core.Timer
	now          int64 // latest ctx.Now seen, for the handlers' "exp"
	lastFullReap int64
	outs         [packet.MaxBatch]uint16 // output of each kept packet in a batch
}

// rewriterOwner lets TakeState find the engine inside any of the classes.
type rewriterOwner interface{ engine() *Rewriter }

func (r *Rewriter) engine() *Rewriter { return r }

// Table exposes the flow table (read-only use outside the worker thread is
// not safe; handlers and ALG elements run on it).
func (r *Rewriter) Table() *FlowTable { return r.table }

// Specs returns the parsed input specs, one per input port.
func (r *Rewriter) Specs() []InputSpec { return r.specs }

// Configure parses one INPUTSPEC per input plus the keywords.
func (r *Rewriter) Configure(a *core.Args) error {
	var raw []string
	var tcpT, tcpD, tcpN, udpT, reap time.Duration = defaultTCPTimeout, defaultTCPDone,
		defaultTCPNoData, defaultUDPTimeout, defaultReapInterval
	var udpS, ignored time.Duration = -1, 0
	r.capacity = defaultCapacity
	err := a.Parse(
		core.Rest("INPUTSPEC", &raw),
		core.Key("TCP_TIMEOUT", core.Duration(&tcpT)),
		core.Key("TCP_DONE_TIMEOUT", core.Duration(&tcpD)),
		core.Key("TCP_NODATA_TIMEOUT", core.Duration(&tcpN)),
		core.Key("UDP_TIMEOUT", core.Duration(&udpT)),
		core.Key("UDP_STREAMING_TIMEOUT", core.Duration(&udpS)),
		core.Key("TCP_GUARANTEE", core.Duration(&ignored)),
		core.Key("UDP_GUARANTEE", core.Duration(&ignored)),
		core.Key("REAP_INTERVAL", core.Duration(&reap)),
		core.Key("MAPPING_CAPACITY", core.Int(&r.capacity)),
		core.Key("CAPACITY", core.Int(&r.capacity)),
	)
	if err != nil {
		return err
	}
	if udpS < 0 {
		udpS = udpT
	}
	if r.capacity < 1 {
		return errors.New("MAPPING_CAPACITY: must be at least 1")
	}
	r.tcpTimeout, r.tcpDone, r.tcpNoData = int64(tcpT), int64(tcpD), int64(tcpN)
	r.udpTimeout, r.udpStreaming, r.reapInterval = int64(udpT), int64(udpS), int64(reap)
	if err := r.parseSpecs(raw); err != nil {
		return err
	}
	r.table = NewFlowTable(r.capacity)
	r.perInput = make([]uint64, len(r.specs))
	return nil
}

func (r *Rewriter) parseSpecs(raw []string) error {
	if len(raw) != r.NInputs() {
		return fmt.Errorf("need %d input specs, one per input port, got %d", r.NInputs(), len(raw))
	}
	var errs []string
	r.specs = make([]InputSpec, len(raw))
	for i, s := range raw {
		is, err := ParseInputSpec(s)
		if err == nil {
			err = r.checkOutputs(is)
		}
		if err != nil {
			errs = append(errs, fmt.Sprintf("input spec %d: %v", i, err))
		}
		r.specs[i] = is
	}
	if errs != nil {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

func (r *Rewriter) checkOutputs(is InputSpec) error {
	if is.Kind == SpecDrop {
		return nil
	}
	if is.FOut >= r.NOutputs() || is.ROut >= r.NOutputs() {
		return fmt.Errorf("output port out of range (%d outputs)", r.NOutputs())
	}
	return nil
}

// Initialize arms the reaper. Its first run is immediate (time 1), after
// which it reschedules itself from the worker's clock, so it works with
// both real and simulated time.
func (r *Rewriter) Initialize(rt core.Router) error {
	r.timer = core.Every(rt, r, r.reapInterval, func(ctx *core.Ctx) {
		r.now = ctx.Now
		r.expire(ctx.Now)
	})
	return nil
}

func (r *Rewriter) expire(now int64) {
	r.table.Expire(now, func(f *Flow) { r.perInput[f.Input]-- })
}

func (r *Rewriter) removeFlow(fi int32) {
	r.perInput[r.table.Flow(fi).Input]--
	r.table.Remove(fi)
}

// Push rewrites a batch that arrived on input port and sends each packet
// to its mapping's output. Packets keep their order per output.
func (r *Rewriter) Push(ctx *core.Ctx, port int, b *packet.Batch) {
	r.now = ctx.Now
	spec := &r.specs[port]
	n := 0
	for i := 0; i < b.N; i++ {
		p := b.P[i]
		out, ok := r.handle(ctx, spec, port, p)
		if !ok {
			continue // handle freed p
		}
		b.P[n] = p
		r.outs[n] = out
		n++
	}
	clear(b.P[n:b.N])
	b.N = n
	r.send(ctx, b)
}

// send pushes the batch whole when every packet goes to one output (the
// common case) and splits it otherwise.
func (r *Rewriter) send(ctx *core.Ctx, b *packet.Batch) {
	if b.N == 0 {
		return
	}
	first := r.outs[0]
	same := true
	for i := 1; i < b.N; i++ {
		if r.outs[i] != first {
			same = false
			break
		}
	}
	if same {
		r.Output(int(first)).Push(ctx, b)
		return
	}
	for i := 0; i < b.N; i++ {
		r.Emit(ctx, int(r.outs[i]), b.P[i])
		b.P[i] = nil
	}
	b.N = 0
	r.Flush(ctx)
}

// handle rewrites one packet and returns its output; false means the
// packet was dropped (and freed).
func (r *Rewriter) handle(ctx *core.Ctx, spec *InputSpec, port int, p *packet.Packet) (uint16, bool) {
	p.Writable(ctx.Pool) // before taking slices: unsharing moves the data
	ip := ipHeader(p)
	if ip == nil {
		return r.dropMalformed(ctx, p)
	}
	hl := int(ip[0]&0x0f) << 2
	ipProto := ip[proto.IPOffProto]
	if !r.mappable(ipProto) || !proto.IsFirstFragment(ip) {
		return r.unmapped(ctx, spec, p)
	}
	l4 := ip[hl:]
	if len(l4) < minTransportLen(ipProto) {
		return r.dropMalformed(ctx, p)
	}
	// Source and destination addresses are adjacent: one 64-bit load.
	pk := flowtable.WireKey(binary.BigEndian.Uint64(ip[proto.IPOffSrc:]), binary.BigEndian.Uint32(l4), ipProto)
	fi, dir := r.table.lookup(pk)
	if fi >= 0 && r.table.Flow(fi).Expiry <= ctx.Now {
		r.removeFlow(fi) // expired but not yet reaped: a new session
		fi = -1
	}
	if fi < 0 {
		switch spec.Kind {
		case SpecPass:
			return uint16(spec.FOut), true
		case SpecDrop:
			r.Drop(ctx, p)
			return 0, false
		}
		if fi = r.newFlow(ctx, spec, port, FlowKey(pk.Tuple())); fi < 0 {
			r.failures++
			r.Drop(ctx, p)
			return 0, false
		}
		dir = DirForward
	}
	f := r.table.Flow(fi)
	rewrite(f, dir, ip, l4, p)
	if f.state&stateSeq != 0 {
		adjustSeq(f, dir, l4)
	}
	r.refresh(f, dir, l4, ctx.Now)
	return f.Output[dir], true
}

func (r *Rewriter) mappable(ipProto uint8) bool {
	if ipProto == proto.ProtoTCP {
		return true
	}
	return ipProto == proto.ProtoUDP && r.mode != modeTCP
}

// unmapped handles packets no mapping can cover (other protocols, later
// fragments): only a pass spec lets them through.
func (r *Rewriter) unmapped(ctx *core.Ctx, spec *InputSpec, p *packet.Packet) (uint16, bool) {
	if spec.Kind == SpecPass {
		return uint16(spec.FOut), true
	}
	r.Drop(ctx, p)
	return 0, false
}

func (r *Rewriter) dropMalformed(ctx *core.Ctx, p *packet.Packet) (uint16, bool) {
	r.malformed++
	r.Drop(ctx, p)
	return 0, false
}

func minTransportLen(ipProto uint8) int {
	if ipProto == proto.ProtoTCP {
		return proto.TCPMinHeaderLen
	}
	return proto.UDPHeaderLen
}

// ipHeader returns the IPv4 datagram at the network annotation (or at the
// start of the data when unset), without link-layer padding, or nil when
// it is not a well-formed IPv4 header.
func ipHeader(p *packet.Packet) []byte { return proto.IPv4Datagram(p.NetworkOrData()) }

// rewrite sets the addresses and ports of direction dir's outgoing tuple
// and updates the checksums incrementally. The new tuple is the reverse of
// the other direction's arriving tuple.
func rewrite(f *Flow, dir int, ip, l4 []byte, p *packet.Packet) {
	back := &f.Key[1-dir]
	proto.Put32(ip, proto.IPOffSrc, back.Dst)
	proto.Put32(ip, proto.IPOffDst, back.Src)
	addToSum(ip[proto.IPOffSum:], f.delta(dir, false))
	p.Anno.DstIP = [4]byte{byte(back.Src >> 24), byte(back.Src >> 16), byte(back.Src >> 8), byte(back.Src)}
	proto.Put16(l4, 0, back.Dport)
	proto.Put16(l4, 2, back.Sport)
	if back.Proto == proto.ProtoTCP {
		addToSum(l4[proto.TCPOffSum:], f.delta(dir, true))
	} else if proto.U16(l4, proto.UDPOffSum) != 0 { // 0 means "no checksum"
		addToSum(l4[proto.UDPOffSum:], f.delta(dir, true))
		if proto.U16(l4, proto.UDPOffSum) == 0 {
			proto.Put16(l4, proto.UDPOffSum, 0xffff) // +0 and -0 are equal; 0 is reserved
		}
	}
}

// addToSum applies a folded one's-complement delta to the checksum at
// sum[0:2] (RFC 1624: HC' = ~(~HC + delta)).
func addToSum(sum []byte, delta uint32) {
	s := uint32(^proto.U16(sum, 0)) + delta
	s = s&0xffff + s>>16
	s = s&0xffff + s>>16
	proto.Put16(sum, 0, ^uint16(s))
}

// refresh advances the flow's expiry and, for TCP, tracks FIN/RST/SYN and
// whether the reply side has spoken; the timeout only changes on those
// rare events, so the common packet costs one add.
func (r *Rewriter) refresh(f *Flow, dir int, l4 []byte, now int64) {
	firstReply := dir == DirReply && f.state&stateBidir == 0
	if f.Key[0].Proto == proto.ProtoTCP && r.mode != modeUDP {
		if flags := l4[proto.TCPOffFlags]; firstReply || flags&(proto.TCPFin|proto.TCPSyn|proto.TCPRst) != 0 {
			r.tcpEvent(f, dir, flags)
		}
	} else if firstReply {
		f.state |= stateBidir
		f.timeout = r.udpStreaming
	}
	f.Expiry = now + f.timeout
}

func (r *Rewriter) tcpEvent(f *Flow, dir int, flags uint8) {
	fin := stateFinForward
	if dir == DirReply {
		fin = stateFinReply
		f.state |= stateBidir
	}
	switch {
	case flags&proto.TCPRst != 0:
		f.state |= stateReset
	case flags&proto.TCPFin != 0:
		f.state |= fin
	case flags&proto.TCPSyn != 0:
		f.state &^= fin // a new SYN reopens that side (Click)
	}
	f.timeout = r.tcpTimeoutFor(f.state)
}

func (r *Rewriter) tcpTimeoutFor(s flowState) int64 {
	switch {
	case s.done():
		return r.tcpDone
	case s&stateBidir != 0:
		return r.tcpTimeout
	}
	return r.tcpNoData
}

func (r *Rewriter) initialTimeout(ipProto uint8) int64 {
	if ipProto == proto.ProtoTCP && r.mode != modeUDP {
		return r.tcpNoData
	}
	return r.udpTimeout
}

// newFlow installs the forward and reply mappings for key as spec says,
// or returns -1 (the caller counts a mapping failure).
func (r *Rewriter) newFlow(ctx *core.Ctx, spec *InputSpec, port int, key FlowKey) int32 {
	if r.table.Full() && !r.reapForRoom(ctx.Now) {
		return -1
	}
	rewritten, ok := key, true
	if spec.Kind == SpecPattern {
		rewritten, ok = r.choose(ctx, &spec.Pattern, key)
	} else {
		ok = r.replyFree(key, key.Reverse(), ctx.Now)
	}
	if !ok {
		return -1
	}
	fi := r.table.Insert(key, rewritten.Reverse())
	f := r.table.Flow(fi)
	f.Output = [2]uint16{uint16(spec.FOut), uint16(spec.ROut)}
	f.Input = uint16(port)
	f.timeout = r.initialTimeout(key.Proto)
	r.perInput[port]++
	return fi
}

// reapForRoom expires old flows when the table is full, at most once per
// fullReapGap.
func (r *Rewriter) reapForRoom(now int64) bool {
	if now-r.lastFullReap < fullReapGap && r.lastFullReap != 0 {
		return false
	}
	r.lastFullReap = now
	r.expire(now)
	return !r.table.Full()
}

// replyFree reports whether a flow with forward tuple fwd may use reply
// as its reply tuple: it must differ from fwd and belong to no live flow.
// An expired owner is removed on the spot.
func (r *Rewriter) replyFree(fwd, reply FlowKey, now int64) bool {
	if reply == fwd {
		return false
	}
	fi, _ := r.table.Lookup(reply)
	if fi < 0 {
		return true
	}
	if r.table.Flow(fi).Expiry <= now {
		r.removeFlow(fi)
		return true
	}
	return false
}

// choose picks the rewritten tuple for a new flow: the packet's own source
// port first when the pattern allows it, then candidates from a random (or,
// with '#', the sequential) starting point, each checked for a unique reply
// tuple. Live keys bound the search: at most 2*Cap candidates can be taken.
func (r *Rewriter) choose(ctx *core.Ctx, p *Pattern, key FlowKey) (FlowKey, bool) {
	nAddr, nPort := p.candidates()
	total := nAddr * nPort
	limit := uint64(2*r.table.Cap() + 2)
	if p.SameFirst && !p.KeepSport && key.Sport >= p.SportLo && key.Sport <= p.SportHi {
		own := uint64(key.Sport - p.SportLo)
		for a := uint64(0); a < nAddr && a < limit; a++ {
			if rw := p.apply(key, a*nPort+own, nPort); r.replyFree(key, rw.Reverse(), ctx.Now) {
				return rw, true
			}
		}
	}
	var v uint64
	if p.Sequential {
		v = p.cursor % total
	} else {
		v = ctx.Rand() % total
	}
	for n := uint64(0); n < total && n < limit; n++ {
		if rw := p.apply(key, v, nPort); r.replyFree(key, rw.Reverse(), ctx.Now) {
			p.cursor = v + 1
			return rw, true
		}
		if v++; v == total {
			v = 0
		}
	}
	return FlowKey{}, false
}

// TakeState adopts the mappings of the element this one replaces in a hot
// reconfiguration, keeping each flow whose input spec is unchanged and
// whose outputs still exist.
func (r *Rewriter) TakeState(old core.Element) {
	o, ok := old.(rewriterOwner)
	if !ok || o.engine().table == nil || r.table == nil {
		return
	}
	prev := o.engine()
	if prev.mode != r.mode {
		return
	}
	for i := range r.specs {
		if i < len(prev.specs) && r.specs[i].String() == prev.specs[i].String() {
			r.specs[i].Pattern.cursor = prev.specs[i].Pattern.cursor
		}
	}
	r.adopt(prev.table, func(f *Flow) bool {
		in := int(f.Input)
		return in < len(r.specs) && in < len(prev.specs) &&
			r.specs[in].String() == prev.specs[in].String() &&
			int(f.Output[0]) < r.NOutputs() && int(f.Output[1]) < r.NOutputs()
	})
}

// adopt copies the accepted live flows of src into r's table, latest
// expiry first, until the table is full.
func (r *Rewriter) adopt(src *FlowTable, accept func(*Flow) bool) {
	var keep []*Flow
	src.Each(func(_ int32, f *Flow) {
		if accept(f) {
			keep = append(keep, f)
		}
	})
	sort.SliceStable(keep, func(i, j int) bool { return keep[i].Expiry > keep[j].Expiry })
	for _, f := range keep {
		if r.table.Full() {
			break
		}
		if fi, _ := r.table.Lookup(f.Key[0]); fi >= 0 {
			continue
		}
		if fi, _ := r.table.Lookup(f.Key[1]); fi >= 0 {
			continue
		}
		fi := r.table.Insert(f.Key[0], f.Key[1])
		*r.table.Flow(fi) = *f
		r.perInput[f.Input]++
	}
}

// setCapacity rebuilds the table for n flows, keeping the latest-expiring.
func (r *Rewriter) setCapacity(n int) {
	old := r.table
	r.capacity = n
	r.table = NewFlowTable(n)
	clear(r.perInput)
	r.adopt(old, func(*Flow) bool { return true })
}

// ---- Handlers ----

// Handlers lists the rewriter handlers.
func (r *Rewriter) Handlers() []core.Handler {
	return []core.Handler{
		core.ReadOnly("table_size", func() string { return strconv.Itoa(r.table.Len()) }),
		core.ReadUint("mapping_failures", &r.failures),
		core.ReadUint("malformed", &r.malformed),
		core.ReadOnly("tcp_table", func() string { return r.dump(proto.ProtoTCP) }),
		core.ReadOnly("udp_table", func() string { return r.dump(proto.ProtoUDP) }),
		core.ReadOnly("table", func() string { return r.dump(proto.ProtoTCP) + r.dump(proto.ProtoUDP) }),
		core.ReadOnly("patterns", r.patterns),
		core.ReadWrite("capacity", func() string { return strconv.Itoa(r.capacity) }, r.writeCapacity),
		core.Action("clear", func() { r.expire(1<<63 - 1) }),
	}
}

func (r *Rewriter) writeCapacity(v string) error {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 1 {
		return fmt.Errorf("expected a positive integer, got %q", v)
	}
	r.setCapacity(n)
	return nil
}

// dump prints both directions of every live flow of one protocol in
// Click's format:
//
//	(10.0.0.1, 1234, 10.0.0.2, 5678) => (1.0.0.1, 1234, 10.0.0.2, 5678) [*0 1] i0 exp300
//
// The '*' marks the output of the line's direction; exp is the seconds
// left (rounded) as of the latest packet or reap time.
func (r *Rewriter) dump(ipProto uint8) string {
	var b strings.Builder
	r.table.Each(func(_ int32, f *Flow) {
		if f.Key[0].Proto != ipProto {
			return
		}
		exp := (f.Expiry - r.now + int64(time.Second)/2) / int64(time.Second)
		for dir := DirForward; dir <= DirReply; dir++ {
			star := [2]string{"", ""}
			star[dir] = "*"
			fmt.Fprintf(&b, "%s => %s [%s%d %s%d] i%d exp%d\n", f.Key[dir], f.Rewritten(dir),
				star[0], f.Output[0], star[1], f.Output[1], f.Input, exp)
		}
	})
	return b.String()
}

// patterns prints one line per input spec, Click style, with the number
// of live flows it created in brackets.
func (r *Rewriter) patterns() string {
	var b strings.Builder
	for i, is := range r.specs {
		b.WriteString(is.Summary())
		if r.perInput[i] > 0 {
			fmt.Fprintf(&b, " [%d]", r.perInput[i])
		}
		b.WriteByte('\n')
	}
	return b.String()
}
