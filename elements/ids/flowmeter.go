package ids

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"flowbox/appliance/core"
	"flowbox/appliance/flowtable"
	"flowbox/appliance/packet"
)

// FlowMeter is a flow cache: per-5-tuple packet and byte counts in a
// fixed, preallocated open-addressing table.
type FlowMeter struct {
	core.Base
	timeout, reapInterval int64
	capacity              int

	flows *flowtable.Table[fmFlow]

	created, expired, overflows, nonIP uint64
	now, lastFullReap                  int64
	timer                              *core.Timer
}

// fmFlow is the state of one flow; the table holds its tuple as the key.
type fmFlow struct {
	first, last int64
	pkts, bytes uint64
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
	m.flows = flowtable.New[fmFlow](m.capacity, 1)
	return nil
}

// Initialize arms the reaper.
func (m *FlowMeter) Initialize(rt core.Router) error {
	m.timer = core.Every(rt, m, m.reapInterval, func(ctx *core.Ctx) {
		m.now = ctx.Now
		m.expire(ctx.Now)
	})
	return nil
}

func (m *FlowMeter) expire(now int64) {
	m.expired += uint64(m.flows.RemoveFunc(func(_ int32, f *fmFlow) bool { return f.last+m.timeout <= now }))
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
		k, ok := flowOf(ip)
		if !ok {
			m.nonIP++
			continue
		}
		m.account(k, uint64(len(ip)), now)
	}
}

func (m *FlowMeter) account(k flowtable.Key, n uint64, now int64) {
	if fi, _ := m.flows.Lookup(k); fi >= 0 {
		f := m.flows.At(fi)
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
	if m.flows.Full() {
		if m.lastFullReap != 0 && now-m.lastFullReap < fmFullReapGap {
			m.overflows++
			return
		}
		m.lastFullReap = now
		m.expire(now)
		if m.flows.Full() {
			m.overflows++
			return
		}
	}
	fi := m.flows.Insert(k)
	*m.flows.At(fi) = fmFlow{first: now, last: now, pkts: 1, bytes: n}
	m.created++
}

// Len is the number of live flows.
func (m *FlowMeter) Len() int { return m.flows.Len() }

// Flow returns the counts of the flow with the given tuple (proto, source,
// destination, ports) if it is live.
func (m *FlowMeter) Flow(protocol uint8, src, dst uint32, sport, dport uint16) (pkts, bytes uint64, ok bool) {
	fi, _ := m.flows.Lookup(flowtable.Tuple{Src: src, Dst: dst, Sport: sport, Dport: dport, Proto: protocol}.Key())
	if fi < 0 {
		return 0, 0, false
	}
	if f := m.flows.At(fi); f.last+m.timeout > m.now {
		return f.pkts, f.bytes, true
	}
	return 0, 0, false
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
		core.Action("clear", func() { m.flows.RemoveFunc(func(int32, *fmFlow) bool { return true }) }),
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
	type flow struct {
		t tuple
		*fmFlow
	}
	var live []flow
	for i, f := range m.flows.All() {
		if f.last+m.timeout > m.now {
			live = append(live, flow{tuple(m.flows.Key(i, 0).Tuple()), f})
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
	for i, f := range o.flows.All() {
		if m.flows.Full() {
			break
		}
		k := o.flows.Key(i, 0)
		m.account(k, 0, f.last)
		if fi, _ := m.flows.Lookup(k); fi >= 0 {
			nf := m.flows.At(fi)
			nf.first, nf.pkts, nf.bytes = f.first, f.pkts, f.bytes
		}
	}
	m.created = o.created
	m.now = o.now
}
