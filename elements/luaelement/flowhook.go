package luaelement

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
	"flowbox/appliance/proto"
	"flowbox/lua"
)

// LuaFlowHook calls the on_flow policy hook for the first packet of each
// new IPv4 flow and applies its verdict to every packet of the flow.
type LuaFlowHook struct {
	core.Base
	hooksFile string
	capacity  int
	timeout   time.Duration
	own       *lua.Hooks // loaded from HOOKS, else lua.ActiveHooks()

	table []flowEntry
	mask  uint64

	flows, newFlows, hookErrors, evictions, noHooks, badPort uint64
}

type flowEntry struct {
	src, dst     uint32
	sport, dport uint16
	proto        uint8
	used         bool
	verdict      int16 // output port, -1 drop
	last         int64
}

const flowProbe = 8

func init() {
	core.Register(core.Class{
		Name:       "LuaFlowHook",
		Ports:      "1/1-",
		Processing: "h/h",
		New:        func() core.Element { return new(LuaFlowHook) },
		Doc: core.Doc{
			Synopsis: "LuaFlowHook([HOOKS file, CAPACITY n, TIMEOUT time])",
			Summary:  "asks the Lua on_flow policy hook about each new flow",
			Description: `Tracks IPv4 flows (source, destination, protocol, ports) in a fixed-size
open-addressing table (no Go map, no allocation per packet). The first
packet of a new flow is handed to the on_flow(p) hook; its verdict is
remembered for the flow: nil/true sends the flow to output 0, a number
to that output, false drops it. A flow idle for TIMEOUT starts over.
When the table is full the least recently seen flow of the probe window
is evicted.

The hooks come from HOOKS (a Lua file loaded for this element) or, by
default, from the policy-hook file of the boot/run configuration
(lua.ActiveHooks). Without hooks, or for non-IPv4 packets, packets go to
output 0. Hook errors and timeouts follow the hooks' fail policy
(accept by default) and are counted; on_flow never blocks the worker.`,
			Ports: "one push input; outputs 0..n-1 chosen by on_flow (0 by default)",
			Args: []core.Item{
				{Name: "HOOKS", Text: "Lua hook file (default: the configuration's policy hooks)"},
				{Name: "CAPACITY", Text: "flow table size, rounded up to a power of two (default 65536)"},
				{Name: "TIMEOUT", Text: "idle time after which a flow is new again (default 60s)"},
			},
			Handlers: []core.Item{
				{Name: "flows", Text: "flows in the table; idle ones are reclaimed lazily (read)"},
				{Name: "new_flows", Text: "on_flow calls (read)"},
				{Name: "hook_errors", Text: "on_flow errors and timeouts (read)"},
				{Name: "evictions", Text: "flows evicted from a full table (read)"},
				{Name: "no_hooks", Text: "new flows seen without any on_flow hook (read)"},
				{Name: "bad_port", Text: "verdicts naming a nonexistent output (sent to 0) (read)"},
			},
			Example: `FromDevice(eth0) -> fh :: LuaFlowHook(HOOKS scripts/flowpolicy.lua) -> ToDevice(eth1);
fh[1] -> Queue -> ToDevice(eth2);`,
		},
	})
}

// Configure parses the arguments and loads HOOKS.
func (f *LuaFlowHook) Configure(a *core.Args) error {
	f.capacity = 65536
	f.timeout = 60 * time.Second
	if err := a.Parse(
		core.Key("HOOKS", core.String(&f.hooksFile)),
		core.Key("CAPACITY", core.Int(&f.capacity)),
		core.Key("TIMEOUT", core.Duration(&f.timeout)),
	); err != nil {
		return err
	}
	if f.capacity < flowProbe || f.capacity > 1<<26 {
		return fmt.Errorf("CAPACITY must be between %d and %d", flowProbe, 1<<26)
	}
	if f.timeout <= 0 {
		return errors.New("TIMEOUT must be positive")
	}
	n := 1
	for n < f.capacity {
		n <<= 1
	}
	f.table = make([]flowEntry, n+flowProbe)
	f.mask = uint64(n - 1)
	if f.hooksFile != "" {
		h, err := lua.LoadHooks(f.hooksFile, lua.HookOptions{Log: func(level, msg string) {
			if r := f.Router(); r != nil {
				r.Logf(f, "lua %s: %s", level, msg)
			}
		}})
		if err != nil {
			return err
		}
		if !h.HasFlow() {
			h.Close()
			return fmt.Errorf("HOOKS %s defines no on_flow", f.hooksFile)
		}
		f.own = h
	}
	return nil
}

func (f *LuaFlowHook) hooks() *lua.Hooks {
	if f.own != nil {
		return f.own
	}
	return lua.ActiveHooks()
}

// Push looks up each packet's flow and routes it by the flow's verdict.
func (f *LuaFlowHook) Push(ctx *core.Ctx, _ int, b *packet.Batch) {
	now := ctx.Now
	if now == 0 {
		now = time.Now().UnixNano()
	}
	h := f.hooks()
	nout := f.NOutputs()
	for i := 0; i < b.N; i++ {
		p := b.P[i]
		b.P[i] = nil
		v := f.verdict(ctx, h, p, now)
		switch {
		case v < 0:
			f.Drop(ctx, p)
		case v >= nout:
			f.badPort++
			f.Emit(ctx, 0, p)
		default:
			f.Emit(ctx, v, p)
		}
	}
	b.N = 0
	f.Flush(ctx)
}

func (f *LuaFlowHook) verdict(ctx *core.Ctx, h *lua.Hooks, p *packet.Packet, now int64) int {
	var key flowEntry
	if !flowKey(p, &key) {
		return 0
	}
	hash := (uint64(key.src)<<32 | uint64(key.dst)) * 0x9e3779b97f4a7c15
	hash ^= (uint64(key.sport)<<24 | uint64(key.dport)<<8 | uint64(key.proto)) * 0xbf58476d1ce4e5b9
	hash ^= hash >> 29
	base := int(hash & f.mask)
	win := f.table[base : base+flowProbe]
	victim := -1
	timeout := int64(f.timeout)
	for j := range win {
		e := &win[j]
		if e.used && now-e.last > timeout {
			e.used = false
			f.flows--
		}
		if !e.used {
			if victim < 0 || win[victim].used {
				victim = j
			}
			continue
		}
		if e.src == key.src && e.dst == key.dst && e.sport == key.sport && e.dport == key.dport && e.proto == key.proto {
			e.last = now
			return int(e.verdict)
		}
		if victim < 0 || (win[victim].used && e.last < win[victim].last) {
			victim = j
		}
	}
	// new flow
	v := 0
	if h == nil || !h.HasFlow() {
		f.noHooks++
	} else {
		f.newFlows++
		fv := h.OnFlow(ctx.Pool, p)
		if fv.Err != nil {
			f.hookErrors++
		}
		switch {
		case !fv.Accept:
			v = -1
		case fv.Port >= 0 && fv.Port < 1<<15:
			v = fv.Port
		}
	}
	e := &win[victim]
	if e.used {
		f.evictions++
	} else {
		f.flows++
	}
	key.used, key.verdict, key.last = true, int16(v), now
	*e = key
	return v
}

// flowKey extracts the IPv4 5-tuple (ports zero for other protocols and
// non-first fragments).
func flowKey(p *packet.Packet, k *flowEntry) bool {
	d := p.Data()
	off := p.NetworkOffset()
	if off < 0 || off >= len(d) {
		if len(d) < 34 || binary.BigEndian.Uint16(d[12:]) != proto.EtherTypeIPv4 {
			return false
		}
		off = 14
	}
	ip := d[off:]
	if len(ip) < 20 || ip[0]>>4 != 4 {
		return false
	}
	hl := proto.IPv4HeaderLen(ip)
	if hl < 20 || hl > len(ip) {
		return false
	}
	k.src, k.dst, k.proto = proto.U32(ip, proto.IPOffSrc), proto.U32(ip, proto.IPOffDst), ip[proto.IPOffProto]
	if (k.proto == proto.ProtoTCP || k.proto == proto.ProtoUDP) && proto.IsFirstFragment(ip) && len(ip) >= hl+4 {
		k.sport, k.dport = proto.U16(ip, hl), proto.U16(ip, hl+2)
	}
	return true
}

// Cleanup releases hooks loaded from HOOKS.
func (f *LuaFlowHook) Cleanup(*core.Ctx) {
	if f.own != nil {
		f.own.Close()
		f.own = nil
	}
}

// Handlers lists the counters.
func (f *LuaFlowHook) Handlers() []core.Handler {
	return []core.Handler{
		core.ReadUint("flows", &f.flows),
		core.ReadUint("new_flows", &f.newFlows),
		core.ReadUint("hook_errors", &f.hookErrors),
		core.ReadUint("evictions", &f.evictions),
		core.ReadUint("no_hooks", &f.noHooks),
		core.ReadUint("bad_port", &f.badPort),
		core.ReadOnly("capacity", func() string { return strconv.Itoa(len(f.table) - flowProbe) }),
	}
}
