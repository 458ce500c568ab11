package arp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
	"flowbox/appliance/proto"
)

const (
	// queryInterval rate-limits queries for one address.
	queryInterval = int64(time.Second)
	// unresolvedTimeout is how long packets wait for a reply before the
	// unresolved entry and its packets are dropped.
	unresolvedTimeout = 5 * int64(time.Second)
	sweepInterval     = time.Second
)

// ARPQuerier encapsulates IP packets in Ethernet, resolving next hops.
type ARPQuerier struct {
	core.Base
	ip, bcast   uint32
	eth         [6]byte
	capacity    int
	entryCap    int
	timeout     time.Duration
	pollTimeout time.Duration
	table       arpTable
	queue       packetQueue
	pool        *packet.Pool // the worker's pool, for handlers that free packets
	now         int64        // ctx.Now of the latest batch
	doomed      []uint32     // sweep scratch, allocated once
	sweeper     *core.Timer
	// releasePending says the insert handler resolved an entry with queued
	// packets; they go out with the next batch or sweep (handlers have no
	// Ctx to push with).
	releasePending bool
	queries        uint64
	responses      uint64
	drops          uint64
}

func init() {
	core.Register(core.Class{
		Name: "ARPQuerier", Ports: "2/1-2", Processing: "h/h",
		New: func() core.Element {
			return &ARPQuerier{capacity: 2048, entryCap: 1024, timeout: 5 * time.Minute, pollTimeout: time.Minute}
		},
		Doc: core.Doc{
			Synopsis: "ARPQuerier(IP, ETH [, CAPACITY, ENTRY_CAPACITY, TIMEOUT, POLL_TIMEOUT, BROADCAST])",
			Summary:  "encapsulates IP packets in Ethernet headers found via ARP",
			Description: `Input 0 takes IP packets whose destination-IP annotation names the next
hop. If that hop's Ethernet address is known, the packet gets an Ethernet
header (source ETH, type IPv4) in its headroom and leaves on output 0.
Broadcast next hops (255.255.255.255 and BROADCAST) go to ff:ff:ff:ff:ff:ff
and multicast ones to their 01:00:5e mapping, without ARP. Otherwise the
packet is queued and an ARP request for the hop is sent (on output 1 if it
exists, else on output 0, as in Click), at most one per second per hop.

Input 1 takes ARP replies (Ethernet frames). A reply records the sender's
address and releases, encapsulated, the packets queued for it on output 0.
Other ARP packets are dropped.

Queued packets are bounded by CAPACITY in total; past it new packets are
dropped. Entries are bounded by ENTRY_CAPACITY (the table is a fixed
open-addressing table). Known entries expire TIMEOUT after their last
reply; from POLL_TIMEOUT on, using an entry also sends a refresh query.
Hops that do not answer within 5 seconds lose their queued packets. Drops
(no annotation, no headroom, queue or table full, expiry) are counted.`,
			Ports: "input 0: IP packets with dst annotation; input 1: ARP replies; output 0: Ethernet frames (and ARP queries without output 1); output 1 (optional): ARP queries",
			Args: []core.Item{
				{Name: "IP", Text: "IP address or ADDR/LEN, ours (the query's sender); a prefix sets the default BROADCAST (mandatory)"},
				{Name: "ETH", Text: "Ethernet address, ours (mandatory)"},
				{Name: "CAPACITY", Text: "integer, packets queued in total (default 2048)"},
				{Name: "ENTRY_CAPACITY", Text: "integer, table entries (default 1024; 0 means the default)"},
				{Name: "TIMEOUT", Text: "time, lifetime of a learned entry (default 5min)"},
				{Name: "POLL_TIMEOUT", Text: "time, age after which a used entry is refreshed (default 1min; 0 disables)"},
				{Name: "BROADCAST", Text: "IP address, the subnet broadcast (default from IP's prefix)"},
			},
			Handlers: []core.Item{
				{Name: "table", Text: "read: one 'IP ETH|- queued=N' line per entry (- while unresolved)"},
				{Name: "count", Text: "read: entries in the table"},
				{Name: "length", Text: "read: packets queued"},
				{Name: "queries", Text: "read: ARP queries sent"},
				{Name: "responses", Text: "read: ARP replies received"},
				{Name: "drops", Text: "read: packets dropped"},
				{Name: "insert", Text: "write 'IP ETH': learn an entry as if a reply arrived (queued packets leave with the next batch)"},
				{Name: "delete", Text: "write 'IP': remove an entry (dropping its queued packets)"},
				{Name: "clear", Text: "write: empty the table"},
			},
			Example: "rt[0] -> arpq :: ARPQuerier(10.0.0.1/24, 00:11:22:33:44:55) -> Queue -> ToDevice(eth0);\nc[1] -> [1]arpq;",
		},
	})
}

// Configure parses the arguments and sizes the table and queue.
func (q *ARPQuerier) Configure(a *core.Args) error {
	var ipArg string
	var bcast netip.Addr
	err := a.Parse(
		core.Pos("IP", core.Word(&ipArg)).Required(),
		core.Pos("ETH", core.Ether(&q.eth)).Required(),
		core.Key("CAPACITY", core.Int(&q.capacity)),
		core.Key("ENTRY_CAPACITY", core.Int(&q.entryCap)),
		core.Key("TIMEOUT", core.Duration(&q.timeout)),
		core.Key("POLL_TIMEOUT", core.Duration(&q.pollTimeout)),
		core.Key("BROADCAST", core.IPv4(&bcast)),
	)
	if err != nil {
		return err
	}
	if err := q.setAddress(ipArg); err != nil {
		return err
	}
	if bcast.IsValid() {
		q.bcast = addrU32(bcast)
	}
	if q.capacity <= 0 || q.capacity > 1<<20 || q.entryCap < 0 || q.entryCap > 1<<20 || q.timeout <= 0 || q.pollTimeout < 0 {
		return errors.New("CAPACITY, ENTRY_CAPACITY, TIMEOUT or POLL_TIMEOUT out of range")
	}
	if q.entryCap == 0 {
		q.entryCap = 1024
	}
	q.table = newARPTable(q.entryCap)
	q.queue = newPacketQueue(q.capacity)
	q.doomed = make([]uint32, 0, q.entryCap)
	return nil
}

// setAddress parses "A.B.C.D" or "A.B.C.D/LEN" (the prefix gives BROADCAST).
func (q *ARPQuerier) setAddress(s string) error {
	host, _, hasLen := strings.Cut(s, "/")
	a, err := core.ParseIPv4(host)
	if err != nil {
		return fmt.Errorf("IP: %v", err)
	}
	q.ip, q.bcast = addrU32(a), 0xffffffff
	if hasLen {
		pfx, err := core.ParseIPPrefix(s)
		if err != nil {
			return fmt.Errorf("IP: %v", err)
		}
		q.bcast = q.ip | ^maskOf(pfx.Bits())
	}
	return nil
}

// Initialize starts the sweep that expires entries and stale queues.
func (q *ARPQuerier) Initialize(r core.Router) error {
	q.sweeper = core.NewTimer(q.sweep)
	r.AddTimer(q, q.sweeper)
	// Handlers (insert) stamp entries with q.now: start it on the clock
	// the packet path uses, or an entry inserted before the first packet
	// or sweep would date from 1970 and expire at once.
	q.now = time.Now().UnixNano()
	q.sweeper.ScheduleAfter(q.now, sweepInterval)
	return nil
}

// Push handles IP packets on input 0 and ARP replies on input 1.
func (q *ARPQuerier) Push(ctx *core.Ctx, port int, b *packet.Batch) {
	q.pool, q.now = ctx.Pool, ctx.Now
	if q.releasePending {
		q.releaseResolved(ctx)
	}
	for _, p := range b.Packets() {
		if port == 0 {
			q.handleIP(ctx, p)
		} else {
			q.handleARP(ctx, p)
		}
	}
	b.Reset()
	q.Flush(ctx)
}

func (q *ARPQuerier) drop(ctx *core.Ctx, p *packet.Packet) {
	q.drops++
	q.Drop(ctx, p)
}

func (q *ARPQuerier) handleIP(ctx *core.Ctx, p *packet.Packet) {
	dst := binary.BigEndian.Uint32(p.Anno.DstIP[:])
	if dst == 0 {
		q.drop(ctx, p)
		return
	}
	if mac, ok := q.directMAC(dst); ok {
		q.send(ctx, p, mac)
		return
	}
	e := q.table.find(dst)
	if e != nil && e.known && ctx.Now-e.updated < int64(q.timeout) {
		q.send(ctx, p, e.eth)
		if q.pollTimeout > 0 && ctx.Now-e.updated >= int64(q.pollTimeout) {
			q.maybeQuery(ctx, e)
		}
		return
	}
	q.hold(ctx, e, dst, p)
}

// hold queues p for an unresolved (or expired) next hop and asks for it.
func (q *ARPQuerier) hold(ctx *core.Ctx, e *arpEntry, dst uint32, p *packet.Packet) {
	if e == nil {
		if e = q.table.insert(dst); e == nil {
			q.drop(ctx, p)
			return
		}
		e.created = ctx.Now
	} else if e.known { // expired: resolve again
		e.known, e.created = false, ctx.Now
	}
	if !q.queue.push(e, p) {
		q.drop(ctx, p)
	}
	q.maybeQuery(ctx, e)
}

// directMAC maps broadcast and multicast next hops without ARP.
func (q *ARPQuerier) directMAC(dst uint32) ([6]byte, bool) {
	if dst == 0xffffffff || dst == q.bcast {
		return broadcastMAC, true
	}
	if dst>>28 == 0xe { // 224/4 -> 01:00:5e + low 23 bits (RFC 1112)
		return [6]byte{0x01, 0x00, 0x5e, byte(dst>>16) & 0x7f, byte(dst >> 8), byte(dst)}, true
	}
	return [6]byte{}, false
}

// send encapsulates p for dst and emits it on output 0.
func (q *ARPQuerier) send(ctx *core.Ctx, p *packet.Packet, dst [6]byte) {
	if !p.Push(ctx.Pool, proto.EtherHeaderLen) {
		q.drop(ctx, p)
		return
	}
	h := p.Writable(ctx.Pool)
	copy(h[0:6], dst[:])
	copy(h[6:12], q.eth[:])
	binary.BigEndian.PutUint16(h[12:], proto.EtherTypeIPv4)
	p.SetMacAt(0)
	q.Emit(ctx, 0, p)
}

// maybeQuery sends a query for e unless one went out recently.
func (q *ARPQuerier) maybeQuery(ctx *core.Ctx, e *arpEntry) {
	if e.queried && ctx.Now-e.lastQuery < queryInterval {
		return
	}
	e.queried, e.lastQuery = true, ctx.Now
	req := ctx.Pool.New(frameLen)
	writeARP(req.Data(), broadcastMAC, q.eth, q.ip, [6]byte{}, e.ip, opRequest)
	req.SetMacAt(0)
	q.queries++
	q.Emit(ctx, q.NOutputs()-1, req) // output 1 if present, else 0
}

func (q *ARPQuerier) handleARP(ctx *core.Ctx, p *packet.Packet) {
	d := p.Data()
	if !ethernetARP(d, opReply) || d[offSHA]&1 != 0 {
		q.drop(ctx, p) // not a reply, or a group address we must not learn
		return
	}
	q.responses++
	q.learn(ctx, binary.BigEndian.Uint32(d[offSPA:]), [6]byte(d[offSHA:offSHA+6]))
	ctx.Pool.Free(p)
}

// learn records ip at eth and releases the packets waiting for it.
func (q *ARPQuerier) learn(ctx *core.Ctx, ip uint32, eth [6]byte) {
	e := q.table.insert(ip)
	if e == nil {
		return
	}
	e.known, e.eth, e.updated = true, eth, ctx.Now
	for p := q.queue.pop(e); p != nil; p = q.queue.pop(e) {
		q.send(ctx, p, eth)
	}
}

// sweep expires old entries and packets waiting too long for a reply.
func (q *ARPQuerier) sweep(ctx *core.Ctx) {
	q.pool = ctx.Pool
	if q.releasePending {
		q.releaseResolved(ctx)
		q.Flush(ctx)
	}
	q.doomed = q.doomed[:0]
	for i := range q.table.slots {
		e := &q.table.slots[i]
		if e.used && q.stale(e, ctx.Now) {
			q.doomed = append(q.doomed, e.ip)
		}
	}
	for _, ip := range q.doomed {
		q.deleteEntry(ctx.Pool, ip)
	}
	q.sweeper.ScheduleAfter(ctx.Now, sweepInterval)
}

func (q *ARPQuerier) stale(e *arpEntry, now int64) bool {
	if e.known {
		return now-e.updated >= int64(q.timeout)
	}
	return now-e.created >= unresolvedTimeout
}

// deleteEntry removes ip and drops its queued packets.
func (q *ARPQuerier) deleteEntry(pool *packet.Pool, ip uint32) bool {
	e := q.table.find(ip)
	if e == nil {
		return false
	}
	for p := q.queue.pop(e); p != nil; p = q.queue.pop(e) {
		q.drops++
		q.Drops++
		pool.Free(p)
	}
	q.table.remove(ip)
	return true
}

// releaseResolved sends the packets queued for entries that the insert
// handler resolved.
func (q *ARPQuerier) releaseResolved(ctx *core.Ctx) {
	q.releasePending = false
	for i := range q.table.slots {
		e := &q.table.slots[i]
		if !e.used || !e.known {
			continue
		}
		for p := q.queue.pop(e); p != nil; p = q.queue.pop(e) {
			q.send(ctx, p, e.eth)
		}
	}
}
