package ipfrag

import (
	"errors"
	"strconv"
	"time"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
	"flowbox/appliance/proto"
)

const (
	// reassemblyTimeout is how long an incomplete set may wait (Click's
	// value; RFC 791 suggests 15 s as a lower bound).
	reassemblyTimeout = 30 * time.Second
	defaultHimem      = 256 * 1024
	// maxFragsPerSet bounds the work a single datagram can cost: a 64 KB
	// datagram in 64-byte pieces needs ~1000 fragments.
	maxFragsPerSet = 1024
	nBuckets       = 1024 // hash buckets (power of two)
	maxDatagram    = 65535
)

// fragKey identifies the datagram a fragment belongs to (RFC 791).
type fragKey struct {
	src, dst uint32
	id       uint16
	proto    uint8
}

// span is a covered payload byte range [lo, hi).
type span struct{ lo, hi int }

// fragSet is one datagram being reassembled. Sets are recycled through a
// free list, keeping their slices, so steady-state reassembly allocates
// nothing.
type fragSet struct {
	key          fragKey
	frags        []*packet.Packet // arrival order
	spans        []span           // merged coverage, sorted, disjoint
	total        int              // payload length once the last fragment arrived, else -1
	bytes        int              // memory charged to this set
	maxFrag      int              // largest fragment's IP length
	born         int64            // ctx.Now when the first fragment arrived
	hnext        *fragSet         // hash chain, or free list
	older, newer *fragSet         // age list, oldest first
}

// IPReassembler rebuilds fragmented IPv4 datagrams.
type IPReassembler struct {
	core.Base
	himem   int
	mtuAnno int // Anno.User slot for the largest fragment size, -1 for none
	buckets [nBuckets]*fragSet
	oldest  *fragSet
	newest  *fragSet
	free    *fragSet
	mem     int
	nsets   int
	timer   *core.Timer

	reassembled, malformed, duplicates, expired, evicted uint64
}

func (r *IPReassembler) Configure(a *core.Args) error {
	r.himem, r.mtuAnno = defaultHimem, -1
	if err := a.Parse(
		core.Key("HIMEM", core.Int(&r.himem)),
		core.Key("MAX_MTU_ANNO", core.Int(&r.mtuAnno)),
	); err != nil {
		return err
	}
	if r.himem < 2048 {
		return errors.New("HIMEM: must be at least 2048 bytes")
	}
	if r.mtuAnno < -1 || r.mtuAnno >= packet.UserSlots {
		return errors.New("MAX_MTU_ANNO: must be a user annotation slot, 0-3")
	}
	return nil
}

func (r *IPReassembler) Initialize(rt core.Router) error {
	r.timer = core.NewTimer(r.expire)
	rt.AddTimer(r, r.timer)
	return nil
}

// Process absorbs fragments from the batch and puts completed datagrams
// in their place; other packets pass through in order.
func (r *IPReassembler) Process(ctx *core.Ctx, b *packet.Batch) {
	j := 0
	for i := 0; i < b.N; i++ {
		p := b.P[i]
		ip, hl, total, ok := ipv4Header(p)
		switch {
		case !ok:
			r.malformed++
			r.reject(ctx, p)
		case !proto.IsFragment(ip):
			b.P[j] = p
			j++
		default:
			if out := r.absorb(ctx, p, ip[:total], hl); out != nil {
				b.P[j] = out
				j++
			}
		}
	}
	b.N = j
	r.flushRejects(ctx)
}

// flushRejects pushes the output-1 scratch batch. (Not Base.Flush: in the
// pull adapter the batch being processed is output 0's scratch.)
func (r *IPReassembler) flushRejects(ctx *core.Ctx) {
	if r.NOutputs() > 1 {
		r.Output(1).Push(ctx, r.Scratch(1))
	}
}

// reject sends a packet the reassembler gives up on to output 1, or drops
// it when there is none.
func (r *IPReassembler) reject(ctx *core.Ctx, p *packet.Packet) {
	if r.NOutputs() > 1 {
		r.Emit(ctx, 1, p) // Emit pushes when the scratch batch fills
		return
	}
	r.Drop(ctx, p)
}

func keyOf(ip []byte) fragKey {
	return fragKey{src: proto.U32(ip, proto.IPOffSrc), dst: proto.U32(ip, proto.IPOffDst),
		id: proto.U16(ip, proto.IPOffID), proto: ip[proto.IPOffProto]}
}

func (k fragKey) bucket() int {
	h := k.src*0x9e3779b1 ^ k.dst*0x85ebca6b ^ uint32(k.id)<<8 ^ uint32(k.proto)
	h ^= h >> 15
	return int(h * 0x2c1b3c6d >> 22 & (nBuckets - 1))
}

// absorb files fragment p; it returns the reassembled datagram when p
// completed one.
func (r *IPReassembler) absorb(ctx *core.Ctx, p *packet.Packet, ip []byte, hl int) *packet.Packet {
	frag := proto.U16(ip, proto.IPOffFrag)
	lo := int(frag&proto.IPFragOffMask) << 3
	hi := lo + len(ip) - hl
	more := frag&proto.IPFlagMF != 0
	if hi == lo || (more && (hi-lo)%8 != 0) || hi+proto.IPv4MinHeaderLen > maxDatagram {
		r.malformed++
		r.reject(ctx, p)
		return nil
	}
	s := r.findOrCreate(keyOf(ip), ctx.Now)
	if !s.consistent(lo, hi, more) {
		r.malformed++
		r.reject(ctx, p)
		r.discard(ctx, s)
		return nil
	}
	if !more {
		s.total = hi
	}
	if s.covers(lo, hi) {
		r.duplicates++
		r.Drop(ctx, p)
		return r.completeOrNil(ctx, s)
	}
	if len(s.frags) >= maxFragsPerSet {
		r.malformed++
		r.reject(ctx, p)
		r.discard(ctx, s)
		return nil
	}
	s.add(p, lo, hi, len(ip))
	r.mem += p.Len()
	s.bytes += p.Len()
	if out := r.completeOrNil(ctx, s); out != nil {
		return out
	}
	r.evictOverHimem(ctx)
	return nil
}

// consistent reports whether a fragment [lo,hi) fits what the set already
// knows about the datagram's length.
func (s *fragSet) consistent(lo, hi int, more bool) bool {
	end := 0
	if n := len(s.spans); n > 0 {
		end = s.spans[n-1].hi
	}
	switch {
	case !more && s.total >= 0:
		return hi == s.total
	case !more:
		return end <= hi
	case s.total >= 0:
		return hi <= s.total
	}
	return true
}

func (s *fragSet) covers(lo, hi int) bool {
	for _, sp := range s.spans {
		if sp.lo <= lo && hi <= sp.hi {
			return true
		}
	}
	return false
}

// add records p and merges [lo,hi) into the coverage.
func (s *fragSet) add(p *packet.Packet, lo, hi, iplen int) {
	s.frags = append(s.frags, p)
	s.maxFrag = max(s.maxFrag, iplen)
	i := 0
	for i < len(s.spans) && s.spans[i].hi < lo {
		i++
	}
	j := i
	for j < len(s.spans) && s.spans[j].lo <= hi {
		lo, hi = min(lo, s.spans[j].lo), max(hi, s.spans[j].hi)
		j++
	}
	if i == j { // insert
		s.spans = append(s.spans, span{})
		copy(s.spans[i+1:], s.spans[i:])
		s.spans[i] = span{lo, hi}
		return
	}
	s.spans[i] = span{lo, hi}
	s.spans = append(s.spans[:i+1], s.spans[j:]...)
}

func (s *fragSet) complete() bool {
	return s.total >= 0 && len(s.spans) == 1 && s.spans[0].lo == 0 && s.spans[0].hi == s.total
}

func (r *IPReassembler) completeOrNil(ctx *core.Ctx, s *fragSet) *packet.Packet {
	if !s.complete() {
		return nil
	}
	out := r.assemble(ctx, s)
	for _, f := range s.frags {
		ctx.Pool.Free(f)
	}
	clear(s.frags)
	s.frags = s.frags[:0]
	r.release(s)
	return out
}

// assemble builds the datagram: the first fragment's link header and IP
// header, then every payload piece. Pieces are copied newest first so
// that, where fragments overlap, the data that arrived first wins (a later
// fragment cannot overwrite what was already accepted).
func (r *IPReassembler) assemble(ctx *core.Ctx, s *fragSet) *packet.Packet {
	first := s.firstFragment()
	netOff := first.NetworkOffset()
	fip := first.Network()
	hl := proto.IPv4HeaderLen(fip)
	if hl+s.total > maxDatagram {
		r.malformed++
		return nil
	}
	q := ctx.Pool.New(netOff + hl + s.total)
	d := q.Data()
	copy(d, first.Data()[:netOff+hl])
	for k := len(s.frags) - 1; k >= 0; k-- {
		f := s.frags[k]
		ip := f.Network()
		fhl := proto.IPv4HeaderLen(ip)
		lo := int(proto.U16(ip, proto.IPOffFrag)&proto.IPFragOffMask) << 3
		n := int(proto.U16(ip, proto.IPOffLen)) - fhl
		copy(d[netOff+hl+lo:], ip[fhl:fhl+n])
	}
	ip := d[netOff:]
	proto.Put16(ip, proto.IPOffLen, uint16(hl+s.total))
	proto.Put16(ip, proto.IPOffFrag, proto.U16(ip, proto.IPOffFrag)&proto.IPFlagDF)
	proto.SetIPv4Checksum(ip)
	q.Anno = first.Anno
	q.Anno.Mac = -1
	if m := int(first.Anno.Mac) - first.Offset(); first.Anno.Mac >= 0 && m >= 0 {
		q.SetMacAt(m)
	}
	q.SetNetworkAt(netOff)
	q.SetTransportAt(netOff + hl)
	if r.mtuAnno >= 0 {
		q.Anno.User[r.mtuAnno] = uint64(s.maxFrag)
	}
	r.reassembled++
	return q
}

// firstFragment is the earliest-arrived fragment at offset 0 (complete
// coverage guarantees one exists).
func (s *fragSet) firstFragment() *packet.Packet {
	for _, f := range s.frags {
		if proto.IsFirstFragment(f.Network()) {
			return f
		}
	}
	return nil
}

func (r *IPReassembler) findOrCreate(k fragKey, now int64) *fragSet {
	bk := k.bucket()
	for s := r.buckets[bk]; s != nil; s = s.hnext {
		if s.key == k {
			return s
		}
	}
	s := r.free
	if s != nil {
		r.free = s.hnext
	} else {
		s = &fragSet{}
	}
	s.key, s.total, s.born, s.bytes, s.maxFrag = k, -1, now, 0, 0
	s.hnext, r.buckets[bk] = r.buckets[bk], s
	s.older, s.newer = r.newest, nil
	if r.newest != nil {
		r.newest.newer = s
	} else {
		r.oldest = s
	}
	r.newest = s
	r.nsets++
	if r.timer != nil && !r.timer.Scheduled() {
		r.timer.ScheduleAt(now + int64(reassemblyTimeout))
	}
	return s
}

// release unlinks s (whose fragments are gone) and recycles it.
func (r *IPReassembler) release(s *fragSet) {
	bk := s.key.bucket()
	for pp := &r.buckets[bk]; *pp != nil; pp = &(*pp).hnext {
		if *pp == s {
			*pp = s.hnext
			break
		}
	}
	if s.older != nil {
		s.older.newer = s.newer
	} else {
		r.oldest = s.newer
	}
	if s.newer != nil {
		s.newer.older = s.older
	} else {
		r.newest = s.older
	}
	r.mem -= s.bytes
	r.nsets--
	s.spans = s.spans[:0]
	s.older, s.newer = nil, nil
	s.hnext, r.free = r.free, s
}

// discard gives up on a set: its fragments are rejected.
func (r *IPReassembler) discard(ctx *core.Ctx, s *fragSet) {
	for _, f := range s.frags {
		r.reject(ctx, f)
	}
	clear(s.frags)
	s.frags = s.frags[:0]
	r.release(s)
}

// evictOverHimem discards the oldest sets until memory fits HIMEM.
func (r *IPReassembler) evictOverHimem(ctx *core.Ctx) {
	for r.mem > r.himem && r.oldest != nil {
		r.evicted++
		r.discard(ctx, r.oldest)
	}
}

// expire is the timer: it discards the sets older than the timeout and
// re-arms for the next oldest.
func (r *IPReassembler) expire(ctx *core.Ctx) {
	limit := ctx.Now - int64(reassemblyTimeout)
	for r.oldest != nil && r.oldest.born <= limit {
		r.expired++
		r.discard(ctx, r.oldest)
	}
	r.flushRejects(ctx)
	if r.oldest != nil {
		r.timer.ScheduleAt(r.oldest.born + int64(reassemblyTimeout))
	}
}

func (r *IPReassembler) Handlers() []core.Handler {
	return []core.Handler{
		core.ReadUint("reassembled", &r.reassembled),
		core.ReadUint("malformed", &r.malformed),
		core.ReadUint("duplicates", &r.duplicates),
		core.ReadUint("expired", &r.expired),
		core.ReadUint("evicted", &r.evicted),
		core.ReadOnly("mem_size", func() string { return itoa(r.mem) }),
		core.ReadOnly("sets", func() string { return itoa(r.nsets) }),
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func init() {
	core.Register(core.Class{
		Name: "IPReassembler", Ports: "1/1-2", Processing: "a/ah",
		New: func() core.Element { return new(IPReassembler) },
		Doc: core.Doc{
			Synopsis: "IPReassembler([HIMEM, MAX_MTU_ANNO])",
			Summary:  "reassembles IPv4 fragments",
			Description: "Packets need the IP header annotation (CheckIPHeader). Non-fragments pass through " +
				"output 0 unchanged. Fragments are held until their datagram is complete; the datagram, " +
				"built from the first fragment's link and IP headers and every payload piece, then leaves " +
				"on output 0 with a fresh length, cleared fragment fields and a correct checksum.\n\n" +
				"A fragment wholly covered by fragments already held (a duplicate) is dropped and counted. " +
				"Partly overlapping fragments are accepted; where they overlap, the data that arrived first " +
				"wins, so a late fragment cannot rewrite accepted data. A fragment contradicting the " +
				"datagram length already known discards the whole set.\n\n" +
				"Incomplete sets expire 30 seconds after their first fragment arrived (by the scheduler's " +
				"clock). Held memory (the lengths of the held fragments) is capped at HIMEM; past it the " +
				"oldest sets are discarded first. Expired, evicted and malformed fragments go to output 1 " +
				"if it exists and are dropped otherwise. Malformed fragments (no valid IPv4 header, empty, " +
				"a non-final fragment whose length is not a multiple of 8, or extending past 65535 bytes) " +
				"are counted. A datagram longer than one pooled buffer gets its own buffer.",
			Ports: "input 0: IPv4 packets with the IP header annotation\n" +
				"output 0: non-fragments and reassembled datagrams\n" +
				"output 1 (optional, push): fragments given up on (expired, evicted, malformed)",
			Args: []core.Item{
				{Name: "HIMEM", Text: "integer bytes, default 262144: most fragment data held at once"},
				{Name: "MAX_MTU_ANNO", Text: "integer 0-3: user annotation slot (Anno.User) that receives the largest fragment's IP length of each reassembled datagram; default none"},
			},
			Handlers: []core.Item{
				{Name: "reassembled", Text: "read: datagrams rebuilt"},
				{Name: "malformed", Text: "read: fragments rejected as malformed or inconsistent"},
				{Name: "duplicates", Text: "read: fragments dropped because their data was already held"},
				{Name: "expired", Text: "read: sets discarded after 30 s"},
				{Name: "evicted", Text: "read: sets discarded to stay under HIMEM"},
				{Name: "mem_size", Text: "read: bytes of fragments held"},
				{Name: "sets", Text: "read: incomplete datagrams held"},
			},
			Example: "FromDevice(eth0) -> Strip(14) -> CheckIPHeader -> IPReassembler -> Print(reassembled) -> Discard;",
		},
	})
}
