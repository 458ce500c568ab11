package lua

import (
	"context"
	"fmt"
	"strings"
	"time"

	"flowbox/appliance/packet"

	glua "github.com/yuin/gopher-lua"
)

// Machine is one sandboxed Lua state running a Program, owned by one
// goroutine (a worker thread). It carries the packet handles for one batch.
type Machine struct {
	L     *glua.LState
	Prog  *Program
	env   *env
	guard *guard
	set   pktSet
	pull  pullState
	opts  Options
}

// ScriptError is an error raised by a script (message starts with
// "file:line:" when the location is known).
type ScriptError struct {
	Msg     string
	Timeout bool // the call overran its time budget
}

func (e *ScriptError) Error() string { return e.Msg }

// NewMachine instantiates prog in a fresh sandboxed state and runs its
// top-level chunk (under the time budget).
func NewMachine(prog *Program, o Options) (*Machine, error) {
	if prog.Dir != "" {
		o.Dirs = append([]string{prog.Dir}, o.Dirs...)
	}
	L, e := newState(o)
	m := &Machine{L: L, Prog: prog, env: e, opts: o}
	m.set.init(L)
	m.installInput()
	if o.Budget > 0 {
		m.guard = newGuard(L, o.Budget)
	}
	L.Push(L.NewFunctionFromProto(prog.proto))
	if err := m.pcall(0, 0); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// Close releases the state.
func (m *Machine) Close() {
	if m.guard != nil {
		m.guard.close()
		m.guard = nil
	}
	m.L.Close()
}

// Func returns the global function name, or nil.
func (m *Machine) Func(name string) *glua.LFunction {
	f, _ := m.L.G.Global.RawGetString(name).(*glua.LFunction)
	return f
}

// Global returns a global value.
func (m *Machine) Global(name string) glua.LValue { return m.L.G.Global.RawGetString(name) }

// Counters lists the counters the script created, in creation order.
func (m *Machine) Counters() []*Counter { return m.env.counters }

// LogSuppressed is the number of log lines dropped by rate limiting.
func (m *Machine) LogSuppressed() uint64 { return m.env.Suppressed }

// pcall runs the function and nargs arguments on the stack, protected and
// under the budget.
func (m *Machine) pcall(nargs, nret int) error {
	g := m.guard
	if g != nil {
		g.begin()
	}
	err := m.L.PCall(nargs, nret, nil)
	if g != nil {
		g.end()
	}
	if err != nil {
		return m.wrap(err)
	}
	return nil
}

func (m *Machine) wrap(err error) error {
	msg := fmtErr(err)
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	timeout := m.guard != nil && m.guard.tripped.Load()
	if timeout {
		msg = strings.Replace(msg, "context canceled", fmt.Sprintf("time budget (%v) exceeded", m.guard.budget), 1)
	}
	if !strings.HasPrefix(msg, m.Prog.Name) && !strings.Contains(msg, ".lua:") {
		msg = m.Prog.Name + ": " + msg
	}
	return &ScriptError{Msg: msg, Timeout: timeout}
}

// Call calls fn with args and returns its results (control path: it may
// allocate).
func (m *Machine) Call(fn *glua.LFunction, nret int, args ...glua.LValue) ([]glua.LValue, error) {
	top := m.L.GetTop()
	m.L.Push(fn)
	for _, a := range args {
		m.L.Push(a)
	}
	if nret < 0 {
		nret = glua.MultRet
	}
	if err := m.pcall(len(args), nret); err != nil {
		m.L.SetTop(top)
		return nil, err
	}
	n := m.L.GetTop() - top
	out := make([]glua.LValue, n)
	for i := 0; i < n; i++ {
		out[i] = m.L.Get(top + 1 + i)
	}
	m.L.SetTop(top)
	return out, nil
}

// ---- packet path ----

// Bind points the first n packet handles at b's packets (default verdict
// def) and resets the clone area. pool is used for copy-on-write and
// clones (nil: packets may not be cloned, shared ones not modified).
func (m *Machine) Bind(pool *packet.Pool, b *packet.Batch, def int) {
	ps := &m.set
	ps.pool = pool
	ps.nclones = 0
	for i := 0; i < b.N; i++ {
		ps.slots[i].point(b.P[i], def)
		ps.table.RawSetInt(i+1, ps.slots[i].ud)
	}
}

// BindOne points handle 0 at p and returns it (hooks, tests).
func (m *Machine) BindOne(pool *packet.Pool, p *packet.Packet, def int) glua.LValue {
	m.set.pool = pool
	m.set.nclones = 0
	m.set.slots[0].point(p, def)
	return m.set.slots[0].ud
}

// Release forgets the packets of the last Bind (handles become invalid).
func (m *Machine) Release(n int) {
	ps := &m.set
	for i := 0; i < n; i++ {
		ps.slots[i].p = nil
	}
	for i := 0; i < ps.nclones; i++ {
		ps.clones[i].p = nil
	}
	ps.nclones = 0
}

// Handle returns packet handle i (valid after Bind).
func (m *Machine) Handle(i int) glua.LValue { return m.set.slots[i].ud }

// Verdict is packet i's output port after a call, or VerdictDrop.
func (m *Machine) Verdict(i int) int { return m.set.slots[i].verdict }

// Packet returns the packet bound to handle i.
func (m *Machine) Packet(i int) *packet.Packet { return m.set.slots[i].p }

// NClones is the number of clones made since Bind.
func (m *Machine) NClones() int { return m.set.nclones }

// Clone returns clone i and its verdict.
func (m *Machine) Clone(i int) (*packet.Packet, int) {
	c := m.set.clones[i]
	return c.p, c.verdict
}

// PushOne calls fn(port, pkt_i) and sets packet i's verdict from the
// result: a number is an output port, nil/false drops, true means 0.
func (m *Machine) PushOne(fn *glua.LFunction, port, i int) error {
	L := m.L
	s := m.set.slots[i]
	L.Push(fn)
	L.Push(num(port))
	L.Push(s.ud)
	if err := m.pcall(2, 1); err != nil {
		return err
	}
	r := L.Get(-1)
	L.Pop(1)
	switch v := r.(type) {
	case glua.LNumber:
		s.verdict = int(v)
		if float64(v) != float64(s.verdict) || v < 0 {
			return &ScriptError{Msg: fmt.Sprintf("%s: push returned %v, not an output port", m.Prog.Name, v)}
		}
	case *glua.LNilType:
		s.verdict = VerdictDrop
	case glua.LBool:
		if v {
			s.verdict = 0
		} else {
			s.verdict = VerdictDrop
		}
	default:
		return &ScriptError{Msg: fmt.Sprintf("%s: push returned a %s, not an output port", m.Prog.Name, r.Type())}
	}
	return nil
}

// PushBatch calls fn(port, pkts, n): pkts[1..n] are the packet handles;
// the script sets verdicts with p:drop() / p:send(k).
func (m *Machine) PushBatch(fn *glua.LFunction, port, n int) error {
	L := m.L
	L.Push(fn)
	L.Push(num(port))
	L.Push(m.set.table)
	L.Push(num(n))
	return m.pcall(3, 0)
}

// Budget is the configured time budget (0: none).
func (m *Machine) Budget() time.Duration { return m.opts.Budget }

// SetVerdict overrides packet i's verdict.
func (m *Machine) SetVerdict(i, v int) { m.set.slots[i].verdict = v }

// DiscardClones forgets the clones made since Bind (the caller freed
// them): NClones becomes 0 and their handles invalid.
func (m *Machine) DiscardClones() {
	ps := &m.set
	for i := 0; i < ps.nclones; i++ {
		ps.clones[i].p = nil
	}
	ps.nclones = 0
}

// SetPool sets the pool used for copy-on-write and clones (pull calls).
func (m *Machine) SetPool(pool *packet.Pool) { m.set.pool = pool }

// BindSlot points handle i at p (tests and tools that hold several packets
// outside a batch) and returns the handle.
func (m *Machine) BindSlot(i int, pool *packet.Pool, p *packet.Packet, def int) glua.LValue {
	m.set.pool = pool
	m.set.slots[i].point(p, def)
	return m.set.slots[i].ud
}

// PacketOf returns the packet a handle (packet or header view) currently
// points at, or nil.
func PacketOf(v glua.LValue) *packet.Packet {
	if ud, ok := v.(*glua.LUserData); ok {
		if s, ok := ud.Value.(*slot); ok {
			return s.p
		}
	}
	return nil
}

// CallContext is Call under ctx (its deadline is the budget): gopher-lua
// checks ctx at each instruction while the call runs. For machines built
// without Options.Budget (a guarded machine uses its own context).
func (m *Machine) CallContext(ctx context.Context, fn *glua.LFunction, nret int, args ...glua.LValue) ([]glua.LValue, error) {
	if m.guard != nil {
		return m.Call(fn, nret, args...)
	}
	m.L.SetContext(ctx)
	defer m.L.RemoveContext()
	res, err := m.Call(fn, nret, args...)
	if err != nil && ctx.Err() != nil {
		msg := err.Error()
		reason := "time budget exceeded"
		if ctx.Err() == context.Canceled {
			reason = "cancelled"
		}
		msg = strings.Replace(msg, ctx.Err().Error(), reason, 1)
		return nil, &ScriptError{Msg: msg, Timeout: true}
	}
	return res, err
}

// SetClock sets what now()/now_ms() return until the next SetClock (the
// batch time, so scripts read the clock without a system call); 0
// returns to the wall clock.
func (m *Machine) SetClock(unixNano int64) { m.env.clock = unixNano }

// StopWatchdog stops the budget watchdog for this machine (end of a run):
// the state stays usable; later calls get their budget from a context
// deadline through CallContext.
func (m *Machine) StopWatchdog() {
	if m.guard != nil {
		m.guard.close()
		m.L.RemoveContext()
		m.guard = nil
	}
}
