package ids

import (
	"errors"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"time"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
)

// FlowMeter is a flow cache: per-5-tuple packet and byte counts in a
// fixed, preallocated open-addressing table.
type FlowMeter struct {
	core.Base
	timeout, reapInterval int64
	capacity              int

	slots []fmSlot
	mask  uint32
	seed  uint64
	flows []fmFlow
	free  []int32
	used  int // high-water mark of flow indexes

	created, expired, overflows, nonIP uint64
	now, lastFullReap                  int64
	timer                              *core.Timer
}

type fmSlot struct {
	hash uint32 // 0 = empty
	idx  int32
}

type fmFlow struct {
	key         fmKey
	t           tuple
	first, last int64
	pkts, bytes uint64
	live        bool
}

// fmKey is the tuple packed in two words for hashing and comparing.
type fmKey struct{ a, b uint64 }

func keyOf(t tuple) fmKey {
	return fmKey{a: uint64(t.src)<<32 | uint64(t.dst), b: uint64(t.sport)<<24 | uint64(t.dport)<<8 | uint64(t.proto)}
}

func (k fmKey) hash(seed uint64) uint32 {
	h := (k.a^seed)*0x9e3779b97f4a7c15 + (k.b^seed>>17)*0xbf58476d1ce4e5b9
	return uint32(h>>32) | 1
}

const (
	fmDefaultCapacity = 65536
	fmDefaultTimeout  = time.Minute
	fmFullReapGap     = int64(time.Second)
)

func init() {
	core.Register(core.Class{
		Name: "FlowMeter", Ports: "1/1", Processing: "a/a",
		New: func() core.Element { return new(FlowMeter) },
		Doc: core.Doc{
			Synopsis: "FlowMeter([TIMEOUT, CAPACITY, KEYWORDS])",
			Summary:  "counts packets and bytes per 5-tuple flow (flow cache)",
			Description: `Keeps a flow cache: for every IPv4 5-tuple (protocol, addresses, and
TCP/UDP ports; ICMP type and code stand in for the source port; other
protocols and non-first fragments have ports 0) it counts packets and
bytes (IP total length) and remembers when the flow was first and last
seen. Flows are directional: the two directions of a connection are two
flows. Packets pass through unchanged.

A flow idle for TIMEOUT expires: it is freed by a reaper that runs every
REAP_INTERVAL (TIMEOUT by default), or lazily when a packet of the same
tuple meets it (then a new flow starts). The table holds CAPACITY flows
in preallocated storage indexed by an open-addressing hash table with
linear probing, keyed with a random seed; the packet path never
allocates. When the table is full a new flow triggers an early reap (at
most once a second); if that frees nothing the flow is not tracked and
'overflows' counts it. Non-IPv4 packets are counted in 'non_ip'. The IP
header is taken at the network annotation, or at the start of the data.`,
			Ports: "Input 0: packets (any; IPv4 ones are metered).\nOutput 0: the same packets, unchanged.",
			Args: []core.Item{
				{Name: "TIMEOUT", Text: "idle time after which a flow expires (1min)"},
				{Name: "CAPACITY", Text: "most flows tracked, preallocated (65536)"},
				{Name: "REAP_INTERVAL", Text: "how often expired flows are freed (TIMEOUT)"},
			},
			Handlers: []core.Item{
				{Name: "count", Text: "live flows"},
				{Name: "created", Text: "flows created since start"},
				{Name: "expired", Text: "flows expired since start"},
				{Name: "overflows", Text: "new flows not tracked because the table was full"},
				{Name: "non_ip", Text: "non-IPv4 packets seen"},
				{Name: "capacity", Text: "CAPACITY"},
				{Name: "top", Text: "read with optional N (10) [bytes|packets]: the N biggest live flows"},
				{Name: "flows", Text: "every live flow, biggest first by bytes"},
				{Name: "clear", Text: "forget every flow (w)"},
			},
			Example: `FromDevice(eth0) -> CheckIPHeader(14)
    -> flows :: FlowMeter(TIMEOUT 30s, CAPACITY 100000) -> ...;
// flowbox shell: read flows.top 5`,
		},
	})
}

// Configure parses TIMEOUT, CAPACITY and REAP_INTERVAL.
func (m *FlowMeter) Configure(a *core.Args) error {
	timeout, reap := fmDefaultTimeout, time.Duration(-1)
	m.capacity = fmDefaultCapacity
	if err := a.Parse(core.Pos("TIMEOUT", core.Duration(&timeout)), core.Pos("CAPACITY", core.Int(&m.capacity)),
		core.Key("REAP_INTERVAL", core.Duration(&reap))); err != nil {
		return err
	}
	if timeout <= 0 {
		return errors.New("TIMEOUT: must be positive")
	}
	if m.capacity < 1 || m.capacity > 1<<24 {
		return errors.New("CAPACITY: must be between 1 and 16777216")
	}
	if reap < 0 {
		reap = timeout
	}
	m.timeout, m.reapInterval = int64(timeout), int64(reap)
	m.alloc()
	return nil
}

func (m *FlowMeter) alloc() {
	n := 1 << bits.Len(uint(2*m.capacity-1)) // load <= 1/2
	m.slots = make([]fmSlot, n)
	m.mask = uint32(n - 1)
	m.seed = rand.Uint64()
	m.flows = make([]fmFlow, m.capacity)
	m.free = make([]int32, m.capacity)
	for i := range m.free {
		m.free[i] = int32(m.capacity - 1 - i)
	}
	m.used = 0
}

// Initialize arms the reaper.
func (m *FlowMeter) Initialize(rt core.Router) error {
	m.timer = core.NewTimer(m.reap)
	rt.AddTimer(m, m.timer)
	if m.reapInterval > 0 {
		m.timer.ScheduleAt(1)
	}
	return nil
}

func (m *FlowMeter) reap(ctx *core.Ctx) {
	m.now = ctx.Now
	m.expire(ctx.Now)
	if m.reapInterval > 0 {
		m.timer.ScheduleAt(ctx.Now + m.reapInterval)
	}
}

func (m *FlowMeter) expire(now int64) {
	for i := 0; i < m.used; i++ {
		if f := &m.flows[i]; f.live && f.last+m.timeout <= now {
			m.remove(int32(i))
			m.expired++
		}
	}
}

// Process meters every packet of the batch and passes it on.
func (m *FlowMeter) Process(ctx *core.Ctx, b *packet.Batch) {
	now := ctx.Now
	m.now = now
	for i := 0; i < b.N; i++ {
		ip := ipHeader(b.P[i])
		if ip == nil {
			m.nonIP++
			continue
		}
		t, ok := flowOf(ip)
		if !ok {
			m.nonIP++
			continue
		}
		m.account(t, uint64(len(ip)), now)
	}
}

func (m *FlowMeter) account(t tuple, n uint64, now int64) {
	k := keyOf(t)
	h := k.hash(m.seed)
	fi := m.lookup(k, h)
	if fi >= 0 {
		f := &m.flows[fi]
		if f.last+m.timeout <= now { // expired, not yet reaped: start over
			m.expired++
			m.created++
			f.first, f.pkts, f.bytes = now, 0, 0
		}
		f.last = now
		f.pkts++
		f.bytes += n
		return
	}
	if len(m.free) == 0 {
		if m.lastFullReap != 0 && now-m.lastFullReap < fmFullReapGap {
			m.overflows++
			return
		}
		m.lastFullReap = now
		m.expire(now)
		if len(m.free) == 0 {
			m.overflows++
			return
		}
	}
	fi = m.free[len(m.free)-1]
	m.free = m.free[:len(m.free)-1]
	if int(fi) >= m.used {
		m.used = int(fi) + 1
	}
	m.flows[fi] = fmFlow{key: k, t: t, first: now, last: now, pkts: 1, bytes: n, live: true}
	i := h & m.mask
	for m.slots[i].hash != 0 {
		i = (i + 1) & m.mask
	}
	m.slots[i] = fmSlot{hash: h, idx: fi}
	m.created++
}

func (m *FlowMeter) lookup(k fmKey, h uint32) int32 {
	for i := h & m.mask; ; i = (i + 1) & m.mask {
		s := m.slots[i]
		if s.hash == 0 {
			return -1
		}
		if s.hash == h && m.flows[s.idx].key == k {
			return s.idx
		}
	}
}

// remove frees flow fi and closes the hole in its probe run (no tombstones).
func (m *FlowMeter) remove(fi int32) {
	f := &m.flows[fi]
	h := f.key.hash(m.seed)
	i := h & m.mask
	for m.slots[i].idx != fi || m.slots[i].hash != h {
		if m.slots[i].hash == 0 {
			return
		}
		i = (i + 1) & m.mask
	}
	for j := (i + 1) & m.mask; m.slots[j].hash != 0; j = (j + 1) & m.mask {
		home := m.slots[j].hash & m.mask
		if (j-home)&m.mask >= (j-i)&m.mask {
			m.slots[i] = m.slots[j]
			i = j
		}
	}
	m.slots[i] = fmSlot{}
	f.live = false
	m.free = append(m.free, fi)
}

// Len is the number of live flows.
func (m *FlowMeter) Len() int { return len(m.flows) - len(m.free) }

// Flow returns the counts of the flow with the given tuple (proto, source,
// destination, ports) if it is live.
func (m *FlowMeter) Flow(protocol uint8, src, dst uint32, sport, dport uint16) (pkts, bytes uint64, ok bool) {
	k := keyOf(tuple{src: src, dst: dst, sport: sport, dport: dport, proto: protocol})
	fi := m.lookup(k, k.hash(m.seed))
	if fi < 0 || m.flows[fi].last+m.timeout <= m.now {
		return 0, 0, false
	}
	return m.flows[fi].pkts, m.flows[fi].bytes, true
}

// Handlers lists the flow cache handlers.
func (m *FlowMeter) Handlers() []core.Handler {
	return []core.Handler{
		core.ReadOnly("count", func() string { return strconv.Itoa(m.Len()) }),
		core.ReadUint("created", &m.created),
		core.ReadUint("expired", &m.expired),
		core.ReadUint("overflows", &m.overflows),
		core.ReadUint("non_ip", &m.nonIP),
		core.ReadOnly("capacity", func() string { return strconv.Itoa(m.capacity) }),
		{Name: "top", Read: m.readTop},
		core.ReadOnly("flows", func() string { return m.top(-1, false) }),
		core.Action("clear", func() {
			for i := 0; i < m.used; i++ {
				if m.flows[i].live {
					m.remove(int32(i))
				}
			}
		}),
	}
}

func (m *FlowMeter) readTop(arg string) (string, error) {
	n, byPkts := 10, false
	for _, w := range strings.Fields(arg) {
		switch w {
		case "bytes":
			byPkts = false
		case "packets":
			byPkts = true
		default:
			v, err := strconv.Atoi(w)
			if err != nil || v < 1 {
				return "", fmt.Errorf("expected [N] [bytes|packets], got %q", arg)
			}
			n = v
		}
	}
	return m.top(n, byPkts), nil
}

// top prints the n biggest live flows (all when n < 0), one per line:
// "tcp 10.0.1.2:1234 > 10.0.2.2:80 packets 12 bytes 3456 age 3s idle 0s".
func (m *FlowMeter) top(n int, byPkts bool) string {
	var live []*fmFlow
	for i := 0; i < m.used; i++ {
		if f := &m.flows[i]; f.live && f.last+m.timeout > m.now {
			live = append(live, f)
		}
	}
	sort.Slice(live, func(i, j int) bool {
		a, b := live[i], live[j]
		if byPkts && a.pkts != b.pkts {
			return a.pkts > b.pkts
		}
		if a.bytes != b.bytes {
			return a.bytes > b.bytes
		}
		return a.pkts > b.pkts
	})
	if n >= 0 && len(live) > n {
		live = live[:n]
	}
	var b strings.Builder
	for _, f := range live {
		fmt.Fprintf(&b, "%s packets %d bytes %d age %ds idle %ds\n", f.t, f.pkts, f.bytes,
			(m.now-f.first)/int64(time.Second), (m.now-f.last)/int64(time.Second))
	}
	return b.String()
}

// TakeState keeps the flows across a hot reconfiguration (as many as fit).
func (m *FlowMeter) TakeState(old core.Element) {
	o, ok := old.(*FlowMeter)
	if !ok || o.flows == nil {
		return
	}
	m.created, m.expired, m.overflows, m.nonIP = o.created, o.expired, o.overflows, o.nonIP
	for i := 0; i < o.used && len(m.free) > 0; i++ {
		f := &o.flows[i]
		if !f.live {
			continue
		}
		m.account(f.t, 0, f.last)
		if fi := m.lookup(f.key, f.key.hash(m.seed)); fi >= 0 {
			nf := &m.flows[fi]
			nf.first, nf.pkts, nf.bytes = f.first, f.pkts, f.bytes
		}
	}
	m.created = o.created
	m.now = o.now
}
