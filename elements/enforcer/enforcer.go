// Package enforcer holds ChangeEnforcer, In-Net's sandbox for processing
// modules that static verification could not prove safe.
package enforcer

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
	"flowbox/appliance/proto"
)

// Drop and pass reasons, counted separately.
const (
	cntIn = iota
	cntOut
	cntSpoofed
	cntUnauthorized
	cntNotForModule
	cntNotIP
	cntTableFull
	numCounters
)

var counterNames = [numCounters]string{"in", "out", "spoofed", "unauthorized", "not_for_module", "not_ip", "table_full"}

// ChangeEnforcer sandboxes one processing module. Even inputs carry traffic
// into the module (input 2k leaves on output 2k), odd inputs traffic out
// of it (input 2k+1 to output 2k+1), one pair per device.
type ChangeEnforcer struct {
	core.Base
	addr      uint32
	allowed   []netip.Prefix
	allow     []prefix
	defaultOn bool // DEFAULT_OFF false: any destination is allowed
	timeout   int64
	peers     peerTable
	counts    [numCounters]uint64
}

type prefix struct{ addr, mask uint32 }

func init() {
	core.Register(core.Class{
		Name: "ChangeEnforcer", Ports: "1-/=", Processing: "h/h", FlowCode: "x/x",
		New: func() core.Element { return new(ChangeEnforcer) },
		Doc: core.Doc{
			Synopsis: "ChangeEnforcer(ADDRESS A [, WHITELIST PREFIXES, DEFAULT_OFF BOOL, TIMEOUT T, CAPACITY N])",
			Summary:  "sandboxes a processing module: stateful anti-spoofing and default-off",
			Description: `In-Net's sandbox (§4.4), inserted by 'flowbox verify' on every entry and
exit of a module that could not be proved safe. Input 2k carries traffic
from device k into the module and leaves on output 2k; input 2k+1 carries
the module's traffic to device k and leaves on output 2k+1.

Inbound IPv4 packets must be addressed to ADDRESS (others are dropped,
not_for_module); their source becomes an authorized peer for TIMEOUT of
idleness. Outbound IPv4 packets must have source ADDRESS or the source of
a live inbound flow (else spoofed), and, unless DEFAULT_OFF is false, a
destination in WHITELIST or equal to a live peer, the implicit
authorization of responses (else unauthorized). Packets are located at
the IP header annotation, else after an Ethernet header with type 0x0800;
outbound ARP passes, other non-IP traffic is dropped (not_ip). When the
peer table is full new peers are not recorded (table_full): replies to
them are then dropped, failing closed.`,
			Ports: "1- push inputs, as many push outputs (pairs per device: in, out)",
			Args: []core.Item{
				{Name: "ADDRESS", Text: "the module's IPv4 address (mandatory)"},
				{Name: "WHITELIST", Text: "space-separated prefixes the module may always send to"},
				{Name: "DEFAULT_OFF", Text: "boolean, require authorization of destinations (default true)"},
				{Name: "TIMEOUT", Text: "idle time after which a peer's authorization lapses (default 60s)"},
				{Name: "CAPACITY", Text: "maximum number of peers (default 65536)"},
			},
			Handlers: []core.Item{
				{Name: "in, out", Text: "(read) packets passed in each direction"},
				{Name: "spoofed, unauthorized, not_for_module, not_ip, table_full", Text: "(read) drops by reason"},
				{Name: "peers", Text: "(read) live authorized peers"},
			},
			Example: `enf :: ChangeEnforcer(ADDRESS 10.0.0.5, WHITELIST 192.0.2.0/24);
FromDevice(eth0) -> [0]enf[0] -> module -> [1]enf[1] -> ToDevice(eth0);`,
		},
	})
}

// Configure parses the arguments.
func (c *ChangeEnforcer) Configure(a *core.Args) error {
	var addr netip.Addr
	var wl string
	defaultOff := true
	timeout := 60 * time.Second
	capacity := 65536
	if err := a.Parse(
		core.Key("ADDRESS", core.IPv4(&addr)).Required(),
		core.Key("WHITELIST", core.String(&wl)),
		core.Key("DEFAULT_OFF", core.Bool(&defaultOff)),
		core.Key("TIMEOUT", core.Duration(&timeout)),
		core.Key("CAPACITY", core.Int(&capacity)),
	); err != nil {
		return err
	}
	if timeout <= 0 {
		return fmt.Errorf("TIMEOUT: must be positive")
	}
	if capacity < 1 || capacity > 1<<24 {
		return fmt.Errorf("CAPACITY: must be between 1 and 16777216")
	}
	b := addr.As4()
	c.addr = binary.BigEndian.Uint32(b[:])
	for _, w := range strings.Fields(wl) {
		p, err := core.ParseIPPrefix(w)
		if err != nil || !p.Addr().Is4() {
			return fmt.Errorf("WHITELIST: bad prefix %q", w)
		}
		p = p.Masked()
		pa := p.Addr().As4()
		c.allowed = append(c.allowed, p)
		c.allow = append(c.allow, prefix{binary.BigEndian.Uint32(pa[:]), maskOf(p.Bits())})
	}
	c.defaultOn = !defaultOff
	c.timeout = int64(timeout)
	c.peers.init(capacity)
	return nil
}

func maskOf(bits int) uint32 {
	if bits == 0 {
		return 0
	}
	return ^uint32(0) << (32 - uint(bits))
}

// ipOf locates the IPv4 header: the annotation, else after an Ethernet
// header of type IPv4. ok is false for non-IP packets; arp reports ARP.
func ipOf(p *packet.Packet) (ip []byte, ok, arp bool) {
	if ip := p.Network(); len(ip) >= 20 && ip[0]>>4 == 4 {
		return ip, true, false
	}
	d := p.Data()
	if len(d) >= 14 {
		switch binary.BigEndian.Uint16(d[12:]) {
		case 0x0800:
			if len(d) >= 34 && d[14]>>4 == 4 {
				return d[14:], true, false
			}
		case 0x0806:
			return nil, false, true
		}
	}
	return nil, false, false
}

// Push handles one batch on input port.
func (c *ChangeEnforcer) Push(ctx *core.Ctx, port int, b *packet.Batch) {
	inbound := port%2 == 0
	for _, p := range b.P[:b.N] {
		if c.pass(ctx.Now, inbound, p) {
			c.Emit(ctx, port, p)
		} else {
			c.Drop(ctx, p)
		}
	}
	b.N = 0
	c.Flush(ctx)
}

func (c *ChangeEnforcer) pass(now int64, inbound bool, p *packet.Packet) bool {
	ip, ok, arp := ipOf(p)
	if !ok {
		if inbound || arp {
			c.counts[cntIn+boolInt(!inbound)]++
			return true
		}
		c.counts[cntNotIP]++
		return false
	}
	src := binary.BigEndian.Uint32(ip[proto.IPOffSrc:])
	dst := binary.BigEndian.Uint32(ip[proto.IPOffDst:])
	if inbound {
		if dst != c.addr {
			c.counts[cntNotForModule]++
			return false
		}
		if !c.peers.touch(src, now, c.timeout) {
			c.counts[cntTableFull]++
		}
		c.counts[cntIn]++
		return true
	}
	if src != c.addr && !c.peers.live(src, now, c.timeout) {
		c.counts[cntSpoofed]++
		return false
	}
	if !c.defaultOn && !c.allowedDst(dst) && !c.peers.live(dst, now, c.timeout) {
		c.counts[cntUnauthorized]++
		return false
	}
	c.counts[cntOut]++
	return true
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (c *ChangeEnforcer) allowedDst(dst uint32) bool {
	for _, p := range c.allow {
		if dst&p.mask == p.addr {
			return true
		}
	}
	return false
}

// Handlers: counters by reason and the live peers.
func (c *ChangeEnforcer) Handlers() []core.Handler {
	hs := make([]core.Handler, 0, numCounters+1)
	for i := range c.counts {
		hs = append(hs, core.ReadUint(counterNames[i], &c.counts[i]))
	}
	hs = append(hs, core.ReadOnly("peers", func() string { return fmt.Sprint(c.peers.n) }))
	return hs
}

// peerTable is an open-addressed table of peer address -> last time seen
// (no allocation or map lookup per packet).
type peerTable struct {
	keys []uint32
	seen []int64 // 0: empty slot
	mask uint32
	n    int
	max  int
}

func (t *peerTable) init(capacity int) {
	size := 1
	for size < 2*capacity {
		size <<= 1
	}
	t.keys = make([]uint32, size)
	t.seen = make([]int64, size)
	t.mask = uint32(size - 1)
	t.max = capacity
}

func hash(a uint32) uint32 { return (a * 0x9e3779b1) ^ (a >> 16) }

// live reports whether a was seen within timeout of now.
func (t *peerTable) live(a uint32, now, timeout int64) bool {
	if len(t.keys) == 0 {
		return false
	}
	for i, n := hash(a)&t.mask, 0; n <= int(t.mask); i, n = (i+1)&t.mask, n+1 {
		if t.seen[i] == 0 {
			return false
		}
		if t.keys[i] == a {
			return now-t.seen[i] <= timeout
		}
	}
	return false
}

// touch records a as seen now; false when the table is full. A slot whose
// peer has been idle longer than timeout is reused (lazy idle expiry).
func (t *peerTable) touch(a uint32, now, timeout int64) bool {
	if len(t.keys) == 0 {
		return false
	}
	if now == 0 {
		now = 1 // 0 marks empty slots
	}
	reuse := -1
	for i, n := hash(a)&t.mask, 0; n <= int(t.mask); i, n = (i+1)&t.mask, n+1 {
		if t.seen[i] == 0 {
			if reuse >= 0 {
				t.keys[reuse], t.seen[reuse] = a, now
				return true
			}
			if t.n >= t.max {
				return false
			}
			t.keys[i], t.seen[i] = a, now
			t.n++
			return true
		}
		if t.keys[i] == a {
			t.seen[i] = now
			return true
		}
		if reuse < 0 && now-t.seen[i] > timeout {
			reuse = int(i)
		}
	}
	if reuse >= 0 {
		t.keys[reuse], t.seen[reuse] = a, now
		return true
	}
	return false
}
