package arp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
)

// responderEntry answers for every address in addr/bits with eth.
type responderEntry struct {
	addr, mask uint32
	bits       int
	eth        [6]byte
}

// ARPResponder answers ARP requests for configured prefixes.
type ARPResponder struct {
	core.Base
	entries []responderEntry // longest prefix first: the first match wins
	replies uint64
	others  uint64
}

func init() {
	core.Register(core.Class{
		Name: "ARPResponder", Ports: "1/1-2", Processing: "a/ah",
		New: func() core.Element { return new(ARPResponder) },
		Doc: core.Doc{
			Synopsis: "ARPResponder(IP/MASK [IP/MASK...] ETH, ...)",
			Summary:  "answers ARP requests",
			Description: `Each argument lists one or more IP addresses or prefixes and one Ethernet
address. An Ethernet ARP request whose target address falls in one of the
prefixes (the longest match wins) is turned, in place, into the ARP reply
giving that Ethernet address, sent back to the requester on output 0.
Answering for whole prefixes is proxy ARP.

Other packets (ARP replies, requests for unknown addresses, non-ARP
frames, truncated or malformed ARP) go to output 1 if it exists and are
dropped otherwise.`,
			Ports: "input 0: Ethernet frames (ARP requests); output 0: ARP replies; output 1 (optional): everything else",
			Args: []core.Item{
				{Name: "IP/MASK... ETH", Text: "addresses or prefixes (18.26.4/24, 10.0.0.1, A/MASK) and the Ethernet address answered for them"},
			},
			Handlers: []core.Item{
				{Name: "table", Text: "read: one 'PREFIX ETH' line per entry"},
				{Name: "lookup", Text: "read with an IP address: the Ethernet address answered for it"},
				{Name: "add", Text: "write 'IP/MASK... ETH': add or replace entries"},
				{Name: "remove", Text: "write 'IP/MASK': remove an entry"},
				{Name: "count", Text: "read: replies sent"},
				{Name: "drops", Text: "read: packets not answered"},
			},
			Example: "c :: Classifier(12/0806 20/0001, -); c[0] -> ARPResponder(10.0.0.1 00:11:22:33:44:55) -> out;",
		},
	})
}

// Configure parses one entry group per argument.
func (r *ARPResponder) Configure(a *core.Args) error {
	if a.Len() == 0 {
		return errors.New("expected IP/MASK ETH arguments")
	}
	for _, arg := range a.Raw() {
		if err := r.add(arg); err != nil {
			return err
		}
	}
	return nil
}

// add parses "IP/MASK... ETH" and adds (or replaces) its entries.
func (r *ARPResponder) add(arg string) error {
	var eth [6]byte
	var prefixes []responderEntry
	haveEth := false
	for _, w := range core.SplitWords(arg) {
		if e, err := core.ParseEther(w); err == nil {
			if haveEth {
				return fmt.Errorf("%q: more than one Ethernet address", arg)
			}
			eth, haveEth = e, true
			continue
		}
		pfx, err := core.ParseIPPrefix(w)
		if err != nil || !pfx.Addr().Is4() {
			return fmt.Errorf("%q: expected IP/MASK or Ethernet address, got %q", arg, w)
		}
		prefixes = append(prefixes, responderEntry{addr: addrU32(pfx.Addr()), mask: maskOf(pfx.Bits()), bits: pfx.Bits()})
	}
	if !haveEth || len(prefixes) == 0 {
		return fmt.Errorf("%q: expected IP/MASK... ETH", arg)
	}
	for _, e := range prefixes {
		e.eth = eth
		r.remove(e.addr, e.bits)
		r.entries = append(r.entries, e)
	}
	sort.SliceStable(r.entries, func(i, j int) bool { return r.entries[i].bits > r.entries[j].bits })
	return nil
}

func (r *ARPResponder) remove(addr uint32, bits int) bool {
	for i, e := range r.entries {
		if e.addr == addr && e.bits == bits {
			r.entries = append(r.entries[:i], r.entries[i+1:]...)
			return true
		}
	}
	return false
}

// lookup returns the entry answering for ip, or nil.
func (r *ARPResponder) lookup(ip uint32) *responderEntry {
	for i := range r.entries {
		if ip&r.entries[i].mask == r.entries[i].addr {
			return &r.entries[i]
		}
	}
	return nil
}

// Process answers what it can in place; other packets leave on output 1
// (or are dropped without it). The runtime adapts it to push and pull.
func (r *ARPResponder) Process(ctx *core.Ctx, b *packet.Batch) {
	n := b.N
	b.Filter(func(p *packet.Packet) bool { return r.answer(ctx, p) },
		func(p *packet.Packet) { r.Reject(ctx, p) })
	r.replies += uint64(b.N)
	r.others += uint64(n - b.N)
}

// answer rewrites an ARP request it can answer into the reply.
func (r *ARPResponder) answer(ctx *core.Ctx, p *packet.Packet) bool {
	d := p.Data()
	if !ethernetARP(d, opRequest) {
		return false
	}
	e := r.lookup(binary.BigEndian.Uint32(d[offTPA:]))
	if e == nil {
		return false
	}
	d = p.Writable(ctx.Pool)
	requester := [6]byte(d[offSHA : offSHA+6])
	spa, tpa := binary.BigEndian.Uint32(d[offSPA:]), binary.BigEndian.Uint32(d[offTPA:])
	writeARP(d, requester, e.eth, tpa, requester, spa, opReply)
	trimTo(p, frameLen)
	p.SetMacAt(0)
	return true
}

// Handlers exposes the table and counters.
func (r *ARPResponder) Handlers() []core.Handler {
	return []core.Handler{
		core.ReadOnly("table", r.table),
		{Name: "lookup", Read: r.lookupHandler},
		core.WriteOnly("add", r.add),
		core.WriteOnly("remove", r.removeHandler),
		core.ReadUint("count", &r.replies),
		core.ReadUint("drops", &r.others),
	}
}

func (r *ARPResponder) table() string {
	var sb strings.Builder
	for _, e := range r.entries {
		fmt.Fprintf(&sb, "%s/%d %s\n", formatIP(e.addr), e.bits, formatMAC(e.eth))
	}
	return sb.String()
}

func (r *ARPResponder) lookupHandler(arg string) (string, error) {
	a, err := core.ParseIPv4(strings.TrimSpace(arg))
	if err != nil {
		return "", err
	}
	e := r.lookup(addrU32(a))
	if e == nil {
		return "", fmt.Errorf("%s: no entry", a)
	}
	return formatMAC(e.eth), nil
}

func (r *ARPResponder) removeHandler(s string) error {
	pfx, err := core.ParseIPPrefix(strings.TrimSpace(s))
	if err != nil || !pfx.Addr().Is4() {
		return fmt.Errorf("expected IP/MASK, got %q", s)
	}
	if !r.remove(addrU32(pfx.Addr()), pfx.Bits()) {
		return fmt.Errorf("%s: no such entry", pfx)
	}
	return nil
}
