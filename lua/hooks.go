package lua

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"

	glua "github.com/yuin/gopher-lua"
)

// Policy hooks: a Lua file named in the boot/run configuration defines
// any of these global functions, which the appliance calls:
//
//	on_config(req)        before a configuration is installed. req =
//	                      {name=, text=, elements={{name=, class=,
//	                      config=, args={...}}, ...}}. Must return true to
//	                      accept; false/nil, "reason" rejects.
//	on_flow(p)            first packet of a new flow (where a config asks
//	                      for it); p is a packet handle. Returns nil/true
//	                      (accept), false (drop) or an output port number.
//	on_tenant(req)        tenant platform requests; same return convention
//	                      as on_config, or a table of values (accept).
//	on_probe_result(res)  tracebox results (notification; may return a
//	                      table of values).
//
// Budgets: control hooks run under a context deadline (HookOptions.Budget,
// default 50ms) in one state guarded by a mutex; on_flow runs in a small
// pool of states (one per concurrently calling worker, up to
// MaxFlowStates) under FlowBudget (default 1ms) enforced by the watchdog.
// on_flow never waits: when every flow state is busy it returns the
// failure verdict with ErrHookBusy.
//
// Errors and timeouts are contained: on_config errors REJECT the
// configuration with the error as reason (fail closed: a broken approval
// hook must not let every configuration through); on_flow errors follow
// HookOptions.FlowFailOpen (default accept); on_tenant errors reject;
// on_probe_result errors are returned and logged.

// HookOptions configure LoadHooks.
type HookOptions struct {
	Budget        time.Duration // control hooks; default 50ms
	FlowBudget    time.Duration // on_flow; default 1ms
	FlowFailOpen  *bool         // on_flow verdict on error; default true (accept)
	MaxFlowStates int           // default 2*GOMAXPROCS
	Dirs          []string      // extra require directories
	Log           func(level, msg string)
}

// ConfigRequest describes a configuration about to be installed.
type ConfigRequest struct {
	Name     string // file or source name
	Text     string // the configuration text
	Elements []ElementInfo
}

// ElementInfo is one element declaration of a configuration.
type ElementInfo struct{ Name, Class, Config string }

// FlowVerdict is on_flow's decision.
type FlowVerdict struct {
	Accept bool
	Port   int // output port chosen by the hook, -1 if none
	Err    error
}

// HookResult is on_tenant's / on_probe_result's answer.
type HookResult struct {
	Accept bool
	Reason string
	Values map[string]any
}

// ErrHookBusy is returned by OnFlow when no flow state is free.
var ErrHookBusy = errors.New("lua hooks: all on_flow states busy")

// Hooks is a loaded policy-hook script.
type Hooks struct {
	prog *Program
	opts HookOptions

	mu  sync.Mutex
	ctl *Machine

	flowMu   sync.Mutex
	flowIdle []*Machine
	flowAll  int
	hasFlow  bool

	Errors   atomic.Uint64
	Timeouts atomic.Uint64
}

// HookNames are the hooks LoadHooks looks for.
var HookNames = []string{"on_config", "on_flow", "on_tenant", "on_probe_result"}

// LoadHooks compiles and loads a hook script.
func LoadHooks(path string, o HookOptions) (*Hooks, error) {
	prog, err := CompileFile(path)
	if err != nil {
		return nil, err
	}
	return newHooks(prog, o)
}

// LoadHooksString is LoadHooks for inline source.
func LoadHooksString(name, code string, o HookOptions) (*Hooks, error) {
	prog, err := CompileString(name, code)
	if err != nil {
		return nil, err
	}
	return newHooks(prog, o)
}

func newHooks(prog *Program, o HookOptions) (*Hooks, error) {
	if o.Budget <= 0 {
		o.Budget = 50 * time.Millisecond
	}
	if o.FlowBudget <= 0 {
		o.FlowBudget = time.Millisecond
	}
	if o.MaxFlowStates <= 0 {
		o.MaxFlowStates = 2 * runtime.GOMAXPROCS(0)
	}
	h := &Hooks{prog: prog, opts: o}
	// The top level runs under the control budget too.
	m, err := h.newMachine(0)
	if err != nil {
		return nil, err
	}
	h.ctl = m
	h.hasFlow = m.Func("on_flow") != nil
	return h, nil
}

func (h *Hooks) newMachine(budget time.Duration) (*Machine, error) {
	opts := Options{Dirs: h.opts.Dirs, Log: h.opts.Log, Budget: budget}
	if budget == 0 {
		// run the chunk under a deadline, then call hooks with contexts
		opts.Budget = h.opts.Budget
		m, err := NewMachine(h.prog, opts)
		if err != nil {
			return nil, err
		}
		m.guard.close()
		m.L.RemoveContext()
		m.guard = nil
		return m, nil
	}
	// load under the control budget, then call under the flow budget
	opts.Budget = h.opts.Budget
	m, err := NewMachine(h.prog, opts)
	if err != nil {
		return nil, err
	}
	m.guard.setBudget(budget)
	return m, nil
}

// Has reports whether the script defines hook name.
func (h *Hooks) Has(name string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ctl != nil && h.ctl.Func(name) != nil
}

// Close releases every state.
func (h *Hooks) Close() {
	h.mu.Lock()
	if h.ctl != nil {
		h.ctl.Close()
		h.ctl = nil
	}
	h.mu.Unlock()
	h.flowMu.Lock()
	for _, m := range h.flowIdle {
		m.Close()
	}
	h.flowIdle = nil
	h.flowMu.Unlock()
}

func (h *Hooks) report(hook string, err error) {
	h.Errors.Add(1)
	var se *ScriptError
	if errors.As(err, &se) && se.Timeout {
		h.Timeouts.Add(1)
	}
	if h.opts.Log != nil {
		h.opts.Log("error", hook+": "+err.Error())
	}
}

// callControl runs a control hook under the budget.
func (h *Hooks) callControl(parent context.Context, name string, arg func(L *glua.LState) glua.LValue) ([]glua.LValue, bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ctl == nil {
		return nil, false, errors.New("lua hooks closed")
	}
	fn := h.ctl.Func(name)
	if fn == nil {
		return nil, false, nil
	}
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := context.WithTimeout(parent, h.opts.Budget)
	defer cancel()
	res, err := h.ctl.CallContext(ctx, fn, 2, arg(h.ctl.L))
	if err != nil {
		h.report(name, err)
		return nil, true, err
	}
	return res, true, nil
}

// OnConfig asks on_config whether a configuration may be installed.
// Without the hook every configuration is accepted.
func (h *Hooks) OnConfig(req ConfigRequest) (accept bool, reason string, err error) {
	return h.OnConfigContext(context.Background(), req)
}

// OnConfigContext is OnConfig with a parent context.
func (h *Hooks) OnConfigContext(ctx context.Context, req ConfigRequest) (bool, string, error) {
	res, called, err := h.callControl(ctx, "on_config", func(L *glua.LState) glua.LValue {
		t := L.NewTable()
		t.RawSetString("name", glua.LString(req.Name))
		t.RawSetString("text", glua.LString(req.Text))
		els := L.CreateTable(len(req.Elements), 0)
		for _, e := range req.Elements {
			et := L.NewTable()
			et.RawSetString("name", glua.LString(e.Name))
			et.RawSetString("class", glua.LString(e.Class))
			et.RawSetString("config", glua.LString(e.Config))
			et.RawSetString("args", ToLua(L, core.SplitArgs(e.Config)))
			els.Append(et)
		}
		t.RawSetString("elements", els)
		return t
	})
	if !called {
		return err == nil, errString(err), err
	}
	if err != nil {
		return false, "on_config hook failed: " + err.Error(), err
	}
	ok, reason := verdictOf(res, "rejected by on_config")
	return ok, reason, nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// verdictOf reads (true) / (false|nil, reason) / ("reason").
func verdictOf(res []glua.LValue, def string) (bool, string) {
	if res[0] == glua.LTrue {
		return true, ""
	}
	if s, ok := res[1].(glua.LString); ok {
		return false, string(s)
	}
	if s, ok := res[0].(glua.LString); ok {
		return false, string(s)
	}
	return false, def
}

// OnTenant calls on_tenant(req). Without the hook it accepts.
func (h *Hooks) OnTenant(req map[string]any) (HookResult, error) {
	return h.resultHook("on_tenant", req, "rejected by on_tenant")
}

// OnProbeResult calls on_probe_result(res).
func (h *Hooks) OnProbeResult(res map[string]any) (HookResult, error) {
	return h.resultHook("on_probe_result", res, "")
}

func (h *Hooks) resultHook(name string, arg map[string]any, def string) (HookResult, error) {
	res, called, err := h.callControl(nil, name, func(L *glua.LState) glua.LValue { return ToLua(L, arg) })
	if !called {
		return HookResult{Accept: err == nil, Reason: errString(err)}, err
	}
	if err != nil {
		return HookResult{Accept: false, Reason: name + " hook failed: " + err.Error()}, err
	}
	if t, ok := res[0].(*glua.LTable); ok {
		v, _ := FromLua(t).(map[string]any)
		if v == nil {
			v = map[string]any{"values": FromLua(t)}
		}
		return HookResult{Accept: true, Values: v}, nil
	}
	if res[0] == glua.LNil && res[1] == glua.LNil && def == "" {
		return HookResult{Accept: true}, nil
	}
	ok, reason := verdictOf(res, def)
	return HookResult{Accept: ok, Reason: reason}, nil
}

// HasFlow reports whether on_flow is defined (callers skip OnFlow
// otherwise).
func (h *Hooks) HasFlow() bool { return h.hasFlow }

func (h *Hooks) failVerdict(err error) FlowVerdict {
	open := h.opts.FlowFailOpen == nil || *h.opts.FlowFailOpen
	return FlowVerdict{Accept: open, Port: -1, Err: err}
}

// OnFlow calls on_flow(p) for the first packet of a new flow. pool (may
// be nil) is the caller's packet pool, needed only if the hook modifies a
// packet shared with a clone. It never blocks on another worker's call.
func (h *Hooks) OnFlow(pool *packet.Pool, p *packet.Packet) FlowVerdict {
	if !h.hasFlow {
		return FlowVerdict{Accept: true, Port: -1}
	}
	m, err := h.getFlow()
	if err != nil {
		if err != ErrHookBusy {
			h.report("on_flow", err)
		}
		return h.failVerdict(err)
	}
	defer h.putFlow(m)
	fn := m.Func("on_flow")
	L := m.L
	L.Push(fn)
	L.Push(m.BindOne(pool, p, 0))
	err = m.pcall(1, 1)
	m.Release(1)
	if err != nil {
		h.report("on_flow", err)
		return h.failVerdict(err)
	}
	r := L.Get(-1)
	L.Pop(1)
	switch v := r.(type) {
	case *glua.LNilType:
		return FlowVerdict{Accept: true, Port: -1}
	case glua.LBool:
		return FlowVerdict{Accept: bool(v), Port: -1}
	case glua.LNumber:
		if v >= 0 && float64(v) == float64(int(v)) {
			return FlowVerdict{Accept: true, Port: int(v)}
		}
	}
	err = fmt.Errorf("%s: on_flow returned %s, want nil, boolean or port", h.prog.Name, r.String())
	h.report("on_flow", err)
	return h.failVerdict(err)
}

func (h *Hooks) getFlow() (*Machine, error) {
	h.flowMu.Lock()
	if n := len(h.flowIdle); n > 0 {
		m := h.flowIdle[n-1]
		h.flowIdle = h.flowIdle[:n-1]
		h.flowMu.Unlock()
		return m, nil
	}
	if h.flowAll >= h.opts.MaxFlowStates {
		h.flowMu.Unlock()
		return nil, ErrHookBusy
	}
	h.flowAll++
	h.flowMu.Unlock()
	m, err := h.newMachine(h.opts.FlowBudget)
	if err != nil {
		h.flowMu.Lock()
		h.flowAll--
		h.flowMu.Unlock()
		return nil, err
	}
	return m, nil
}

func (h *Hooks) putFlow(m *Machine) {
	h.flowMu.Lock()
	h.flowIdle = append(h.flowIdle, m)
	h.flowMu.Unlock()
}

// Process-wide hooks, set by the runtime at boot/reload and read by
// elements that call OnFlow.
var active atomic.Pointer[Hooks]

// SetActiveHooks installs h (nil removes) and returns the previous hooks.
func SetActiveHooks(h *Hooks) *Hooks { return active.Swap(h) }

// ActiveHooks returns the installed hooks or nil.
func ActiveHooks() *Hooks { return active.Load() }
