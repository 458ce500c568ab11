// Package luaelement provides LuaElement, an element whose behaviour is a
// sandboxed Lua script (see package flowbox/lua).
package luaelement

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
	"flowbox/lua"

	glua "github.com/yuin/gopher-lua"
)

// LuaElement runs a Lua script on each batch.
type LuaElement struct {
	core.Base
	script, code string
	nin, nout    int
	args         string
	policyPass   bool
	maxErrors    int
	budget       time.Duration
	interval     time.Duration

	m         *lua.Machine
	push      *glua.LFunction
	pushBatch *glua.LFunction
	pullFn    *glua.LFunction
	timerFn   *glua.LFunction
	timer     *core.Timer
	handlers  []core.Handler

	calls, errors, consecutive, timeouts, badPort, policyPkts uint64
	disabled                                                  bool
	lastErr                                                   string
	lastLog                                                   time.Time
	logged                                                    int

	// pull context
	pulling bool         // outputs are pull
	inq     []inQueue    // per input: packets pulled from upstream, not yet taken
	want    int          // refill size for input() in the current Pull
	pctx    *core.Ctx    // the current Pull's context (input() callback)
	tmp     packet.Batch // pull context without pull(): the batch run through push
}

// inQueue holds what one upstream pull returned until the script takes
// it with input(i).
type inQueue struct {
	b   packet.Batch
	pos int
}

const (
	defaultMaxErrors = 10
	defaultBudget    = 5 * time.Millisecond
)

func init() {
	core.Register(core.Class{
		Name:       "LuaElement",
		Ports:      "-/-",
		Processing: "a/a",
		New:        func() core.Element { return new(LuaElement) },
		Doc: core.Doc{
			Synopsis: "LuaElement(SCRIPT file | CODE text [, INPUTS n, OUTPUTS n, ARGS words, POLICY pass|drop, MAX_ERRORS n, BUDGET time, INTERVAL time])",
			Summary:  "processes packets with a sandboxed Lua script",
			Description: `Runs a Lua 5.1 script (gopher-lua) in a sandbox: only the base, table,
string and math libraries (no io, os, debug, load*, dofile); require loads
NAME.lua from the script's directory and the scripts/ directory only.
The script is compiled once and run in one Lua state owned by the
element's worker thread.

The script defines:
  init(args, info)      optional; called once at configuration with ARGS
                        as a table (key=value words become fields, other
                        words the array part; numbers are converted;
                        a=1,2,3 is an array) and info = {name=, inputs=,
                        outputs=}.
                        Returning false, "reason" fails the configuration.
  push(port, p)         returns the output port for packet p, or nil to
                        drop it (true means output 0). One Go->Lua call
                        per packet.
  push_batch(port, pkts, n)
                        faster form, one call per batch: pkts[1..n] are
                        packet handles, each starting with verdict output
                        0; the script calls p:drop() or p:send(k).
                        Used instead of push when defined.
  pull(port)            pull context: called once per packet the element
                        hands to whoever pulls output port; it takes
                        packets with input(i) (the next packet of input
                        i, or nil) and returns one of them (or a clone),
                        or nil for none now. Packets taken and not
                        returned are dropped. Upstream is pulled in
                        batches (as many as the downstream asked for) and
                        leftovers wait in the element for the next pull.
                        Without pull(), a script with push/push_batch and
                        one input and output also works in a pull
                        context: the element pulls a batch from input 0,
                        runs push/push_batch on it and returns what went
                        to output 0.
  take_state(old, info) optional; hot reconfiguration (see below).
  timer()               optional; called every INTERVAL; may return the
                        next delay in seconds, or false to stop.
  handlers              optional table: name = function(arg) (read
                        handler) or name = {read = f, write = f}; they
                        become element handlers ("read elem.name").

Packet handles are userdata re-pointed at each packet (see the lua package
documentation for the API: p:len(), p:byte(off), p:ip():src(),
p:tcp():dport(), p:set_paint(n), p:clone(), ...); every header setter
keeps the IP and TCP/UDP checksums right. Clones made with p:clone() go
to output 0 unless sent elsewhere with c:send(k).

Errors (including sandbox violations and a call that runs past BUDGET)
are counted and logged with the script's file name and line; the packet
of a failed call (the whole batch for push_batch) is handled by POLICY.
After MAX_ERRORS consecutive failing calls the element is disabled:
every packet is passed to output 0 or dropped according to POLICY,
until "write elem.enable" re-enables it.

Ports are agnostic: in a push context (the usual) inputs and outputs
are push and push/push_batch run; behind a Queue (Queue -> LuaElement ->
Unqueue) they are all pull and pull(port) runs. In a pull context POLICY
pass hands packets from input min(port, INPUTS-1) straight to the
puller; drop pulls and drops them.

Hot reconfiguration: the new element of the same name takes over the
packets waiting in the old one's inputs. The script keeps data across
a reconfiguration in the global table "state": the old state's "state"
is copied by value (strings, numbers, booleans, nested tables; functions
and userdata are left out) into the new state. If the new script
defines take_state(old, info), it is called with the copy and info =
{same = true|false} (same: identical script source and ARGS) and does
what it wants with it; otherwise the copy replaces "state" only when
same is true. When same is true the element's counters (calls, errors,
timeouts, bad_port, policy_packets, drops, last_error) and the
script's counter() values are carried over too; the disabled flag is
not (a reconfiguration re-enables the element).

The budget is enforced without per-call contexts: the state carries one
cancellable context and a shared watchdog cancels it when a call overruns
(stopped between BUDGET and BUDGET + max(BUDGET/4, 1ms)). BUDGET 0
removes the check (slightly faster VM loop, no protection).`,
			Ports: "INPUTS inputs (default 1) and OUTPUTS outputs (default 1), all push or all\n" +
				"pull (agnostic); the configuration's port counts must match.",
			Args: []core.Item{
				{Name: "SCRIPT", Text: "Lua file, relative to the working directory (or CODE)"},
				{Name: "CODE", Text: "inline Lua source (instead of SCRIPT)"},
				{Name: "INPUTS", Text: "number of inputs, default 1"},
				{Name: "OUTPUTS", Text: "number of outputs, default 1"},
				{Name: "ARGS", Text: "words passed to init(args): key=value or plain values"},
				{Name: "POLICY", Text: "pass (to output 0) or drop: failed calls and a disabled element; default pass"},
				{Name: "MAX_ERRORS", Text: "consecutive failing calls before disabling, default 10 (0: never)"},
				{Name: "BUDGET", Text: "time budget per call into the script (main chunk and init at configuration, push, push_batch, pull, timer, handlers), default 5ms; 0 disables"},
				{Name: "INTERVAL", Text: "timer() period, default 1s"},
			},
			Handlers: []core.Item{
				{Name: "errors", Text: "failed calls (read)"},
				{Name: "timeouts", Text: "calls stopped by the budget (read)"},
				{Name: "last_error", Text: "last error message, with file:line (read)"},
				{Name: "disabled", Text: "true when disabled after repeated errors (read)"},
				{Name: "enable", Text: "re-enable after errors (write)"},
				{Name: "calls", Text: "Go->Lua calls made (read)"},
				{Name: "bad_port", Text: "packets sent to a nonexistent output (dropped) (read)"},
				{Name: "counters", Text: "the script's counter(name) values, one 'name value' per line (read)"},
				{Name: "held", Text: "packets pulled from upstream waiting for input() (pull context) (read)"},
				{Name: "<name>", Text: "handlers declared by the script's handlers table"},
			},
			Example: `LuaElement(SCRIPT scripts/portknock.lua, ARGS "knock=7000,8000,9000 open=22")
LuaElement(CODE "function push(port, p) local u = p:udp() if u and u:dport() == 53 then return nil end return 0 end")
Queue -> LuaElement(SCRIPT scripts/prio.lua, INPUTS 2) -> Unqueue -> ToDevice(eth1)`,
		},
	})
}

// Configure parses the arguments, compiles and loads the script and runs
// init(args).
func (e *LuaElement) Configure(a *core.Args) error {
	e.nin, e.nout = 1, 1
	e.maxErrors = defaultMaxErrors
	e.budget = defaultBudget
	e.interval = time.Second
	policy := "pass"
	if err := a.Parse(
		core.Pos("SCRIPT", core.String(&e.script)),
		core.Key("CODE", core.String(&e.code)),
		core.Key("INPUTS", core.Int(&e.nin)),
		core.Key("OUTPUTS", core.Int(&e.nout)),
		core.Key("ARGS", core.String(&e.args)),
		core.Key("POLICY", core.Word(&policy)),
		core.Key("MAX_ERRORS", core.Int(&e.maxErrors)),
		core.Key("BUDGET", core.Duration(&e.budget)),
		core.Key("INTERVAL", core.Duration(&e.interval)),
	); err != nil {
		return err
	}
	switch strings.ToLower(policy) {
	case "pass":
		e.policyPass = true
	case "drop":
		e.policyPass = false
	default:
		return fmt.Errorf("POLICY: expected pass or drop, got %q", policy)
	}
	if (e.script == "") == (e.code == "") {
		return errors.New("exactly one of SCRIPT or CODE is required")
	}
	if e.nin < 0 || e.nout < 0 {
		return errors.New("INPUTS and OUTPUTS must not be negative")
	}
	if e.NInputs() != e.nin || e.NOutputs() != e.nout {
		return fmt.Errorf("configured with INPUTS %d, OUTPUTS %d but connected with %d input(s), %d output(s)",
			e.nin, e.nout, e.NInputs(), e.NOutputs())
	}
	if e.budget < 0 || e.interval <= 0 {
		return errors.New("BUDGET must be >= 0 and INTERVAL > 0")
	}
	var prog *lua.Program
	var err error
	if e.script != "" {
		if _, serr := os.Stat(e.script); serr != nil {
			return fmt.Errorf("SCRIPT: %v", serr)
		}
		prog, err = lua.CompileFile(e.script)
	} else {
		prog, err = lua.CompileString(e.Name()+".CODE", e.code)
	}
	if err != nil {
		return err
	}
	m, err := lua.NewMachine(prog, lua.Options{Budget: e.budget, Log: e.scriptLog})
	if err != nil {
		return err
	}
	if e.m != nil {
		e.m.Close()
	}
	e.m = m
	e.push = m.Func("push")
	e.pushBatch = m.Func("push_batch")
	e.pullFn = m.Func("pull")
	e.timerFn = m.Func("timer")
	if e.push == nil && e.pushBatch == nil && e.pullFn == nil && e.nin+e.nout > 0 {
		return fmt.Errorf("%s: script defines none of push, push_batch and pull", prog.Name)
	}
	if fn := m.Func("init"); fn != nil {
		info := m.L.NewTable()
		info.RawSetString("name", glua.LString(e.Name()))
		info.RawSetString("inputs", glua.LNumber(e.nin))
		info.RawSetString("outputs", glua.LNumber(e.nout))
		res, err := m.Call(fn, 2, lua.ArgsTable(m.L, core.SplitWords(e.args)), info)
		if err != nil {
			return err
		}
		if res[0] == glua.LFalse {
			reason := "init returned false"
			if s, ok := res[1].(glua.LString); ok {
				reason = string(s)
			}
			return fmt.Errorf("%s: init: %s", prog.Name, reason)
		}
	}
	e.handlers = e.scriptHandlers()
	return nil
}

// Initialize checks the script against the resolved port kinds and arms
// the timer when the script has one.
func (e *LuaElement) Initialize(r core.Router) error {
	pushIn, pullIn, pullOut := false, false, false
	for i := 0; i < e.nin; i++ {
		if e.Input(i).Kind == core.Pull {
			pullIn = true
		} else {
			pushIn = true
		}
	}
	for i := 0; i < e.nout; i++ {
		if e.Output(i).Kind == core.Pull {
			pullOut = true
		}
	}
	name := e.m.Prog.Name
	switch {
	case pushIn && pullOut:
		return errors.New("push inputs with pull outputs are not supported (put a Queue in front)")
	case pullIn && !pullOut:
		return errors.New("pull inputs need pull outputs (the element is pulled, never scheduled)")
	case pushIn && e.push == nil && e.pushBatch == nil:
		return fmt.Errorf("%s: push context but the script defines neither push nor push_batch", name)
	case pullOut && e.pullFn == nil && (e.push == nil && e.pushBatch == nil || e.nin != 1 || e.nout != 1):
		return fmt.Errorf("%s: pull context needs pull(port) (or push/push_batch with one input and one output)", name)
	}
	e.pulling = pullOut
	if e.pulling {
		e.inq = make([]inQueue, e.nin)
		e.m.SetInput(nil, e.input)
	}
	if e.timerFn != nil {
		e.timer = core.NewTimer(e.runTimer)
		r.AddTimer(e, e.timer)
		e.timer.ScheduleAfter(time.Now().UnixNano(), e.interval)
	}
	return nil
}

// Machine exposes the element's Lua machine (tests, tools).
func (e *LuaElement) Machine() *lua.Machine { return e.m }

func (e *LuaElement) scriptLog(level, msg string) {
	if r := e.Router(); r != nil {
		r.Logf(e, "lua %s: %s", level, msg)
	}
}

// Push runs the script on a batch and routes the packets by verdict.
func (e *LuaElement) Push(ctx *core.Ctx, port int, b *packet.Batch) {
	n := b.N
	if n == 0 {
		return
	}
	if e.disabled {
		e.policyBatch(ctx, b)
		return
	}
	m := e.m
	e.run(ctx, port, b)
	e.route(ctx, b, n)
	for i := 0; i < m.NClones(); i++ {
		c, v := m.Clone(i)
		e.emit(ctx, v, c)
	}
	m.Release(n)
	e.Flush(ctx)
}

// run binds b and runs push_batch or push on it, leaving each packet's
// verdict (the policy's for failed calls) and the clones in the machine;
// the caller routes them and releases the handles.
func (e *LuaElement) run(ctx *core.Ctx, port int, b *packet.Batch) {
	n := b.N
	m := e.m
	m.SetClock(ctx.Now)
	m.Bind(ctx.Pool, b, 0)
	if e.pushBatch != nil {
		e.calls++
		if err := m.PushBatch(e.pushBatch, port, n); err != nil {
			e.fail(err)
			pv := e.policyVerdict()
			for i := 0; i < n; i++ {
				m.SetVerdict(i, pv)
			}
			e.policyPkts += uint64(n)
			// the failed call's clones are not the script's output
			for i := 0; i < m.NClones(); i++ {
				c, _ := m.Clone(i)
				ctx.Pool.Free(c)
			}
			m.DiscardClones()
			return
		}
		e.consecutive = 0
		return
	}
	for i := 0; i < n; i++ {
		if e.disabled {
			m.SetVerdict(i, e.policyVerdict())
			e.policyPkts++
			continue
		}
		e.calls++
		if err := m.PushOne(e.push, port, i); err != nil {
			e.fail(err)
			m.SetVerdict(i, e.policyVerdict())
			e.policyPkts++
			continue
		}
		e.consecutive = 0
	}
}

// Pull serves a pull on output port: pull(port) once per packet, or, for
// a push script, push/push_batch over a batch pulled from input 0.
func (e *LuaElement) Pull(ctx *core.Ctx, port int, b *packet.Batch, max int) {
	if room := packet.MaxBatch - b.N; max > room {
		max = room
	}
	if max <= 0 {
		return
	}
	if e.disabled {
		e.policyPull(ctx, port, b, max)
		return
	}
	if e.pullFn == nil {
		e.pullThroughPush(ctx, b, max)
		return
	}
	m := e.m
	m.SetClock(ctx.Now)
	m.SetPool(ctx.Pool)
	e.pctx = ctx
	for got := 0; got < max; {
		e.want = max - got
		e.calls++
		p, err := m.PullOne(e.pullFn, port)
		taken := m.Taken()
		if err != nil {
			e.fail(err)
			// the packets the failed call took go by POLICY
			for k := 0; k < taken; k++ {
				q := m.Packet(k)
				e.policyPkts++
				if e.policyPass && got < max {
					b.P[b.N] = q
					b.N++
					got++
				} else {
					e.Drop(ctx, q)
				}
			}
			for k := 0; k < m.NClones(); k++ {
				c, _ := m.Clone(k)
				e.Drop(ctx, c)
			}
			m.Release(taken)
			break
		}
		e.consecutive = 0
		for k := 0; k < taken; k++ {
			if q := m.Packet(k); q != p {
				e.Drop(ctx, q)
			}
		}
		for k := 0; k < m.NClones(); k++ {
			if c, _ := m.Clone(k); c != p {
				e.Drop(ctx, c)
			}
		}
		m.Release(taken)
		if p == nil {
			break
		}
		b.P[b.N] = p
		b.N++
		got++
	}
	e.pctx = nil
}

// input is input(i) for the script: the next packet of input i, pulling
// a batch from upstream when none is waiting.
func (e *LuaElement) input(i int) (*packet.Packet, bool) {
	if i < 0 || i >= len(e.inq) {
		return nil, false
	}
	return e.take(e.pctx, i), true
}

func (e *LuaElement) take(ctx *core.Ctx, i int) *packet.Packet {
	q := &e.inq[i]
	if q.pos >= q.b.N {
		q.b.N, q.pos = 0, 0
		want := e.want
		if want < 1 {
			want = 1
		}
		if e.Input(i).Pull(ctx, &q.b, want) == 0 {
			return nil
		}
	}
	p := q.b.P[q.pos]
	q.b.P[q.pos] = nil
	q.pos++
	return p
}

// pullThroughPush runs a push script in a pull context (one input, one
// output): what it sends to output 0 goes to the puller.
func (e *LuaElement) pullThroughPush(ctx *core.Ctx, b *packet.Batch, max int) {
	t := &e.tmp
	t.N = 0
	e.want = max
	for t.N < max {
		p := e.take(ctx, 0)
		if p == nil {
			break
		}
		t.P[t.N] = p
		t.N++
	}
	n := t.N
	if n == 0 {
		return
	}
	m := e.m
	e.run(ctx, 0, t)
	for i := 0; i < n; i++ {
		e.collect(ctx, m.Verdict(i), t.P[i], b)
	}
	for i := 0; i < m.NClones(); i++ {
		c, v := m.Clone(i)
		e.collect(ctx, v, c, b)
	}
	m.Release(n)
	t.N = 0
}

func (e *LuaElement) collect(ctx *core.Ctx, v int, p *packet.Packet, b *packet.Batch) {
	switch {
	case v == 0 && b.N < packet.MaxBatch:
		b.P[b.N] = p
		b.N++
	case v > 0:
		e.badPort++ // outputs are pull: only output 0 is served
		e.Drop(ctx, p)
	default:
		e.Drop(ctx, p)
	}
}

// policyPull serves a pull while the element is disabled.
func (e *LuaElement) policyPull(ctx *core.Ctx, port int, b *packet.Batch, max int) {
	if e.nin == 0 {
		return
	}
	i := min(port, e.nin-1)
	e.want = max
	for k := 0; k < max; k++ {
		p := e.take(ctx, i)
		if p == nil {
			return
		}
		e.policyPkts++
		if e.policyPass {
			b.P[b.N] = p
			b.N++
		} else {
			e.Drop(ctx, p)
		}
	}
}

// held counts the packets waiting in the input queues.
func (e *LuaElement) held() int {
	n := 0
	for i := range e.inq {
		n += e.inq[i].b.N - e.inq[i].pos
	}
	return n
}

func (e *LuaElement) route(ctx *core.Ctx, b *packet.Batch, n int) {
	m := e.m
	for i := 0; i < n; i++ {
		e.emit(ctx, m.Verdict(i), b.P[i])
	}
}

func (e *LuaElement) emit(ctx *core.Ctx, v int, p *packet.Packet) {
	switch {
	case v < 0:
		e.Drop(ctx, p)
	case v >= e.nout:
		e.badPort++
		e.Drop(ctx, p)
	default:
		e.Emit(ctx, v, p)
	}
}

func (e *LuaElement) policyVerdict() int {
	if e.policyPass && e.nout > 0 {
		return 0
	}
	return lua.VerdictDrop
}

func (e *LuaElement) policyBatch(ctx *core.Ctx, b *packet.Batch) {
	e.policyPkts += uint64(b.N)
	if e.policyPass && e.nout > 0 {
		e.Output(0).Push(ctx, b)
		return
	}
	e.Drops += uint64(b.N)
	ctx.Pool.FreeBatch(b)
}

// fail counts an error, logs it (rate-limited) and disables the element
// after MAX_ERRORS consecutive failures.
func (e *LuaElement) fail(err error) {
	e.errors++
	e.consecutive++
	e.lastErr = err.Error()
	var se *lua.ScriptError
	if errors.As(err, &se) && se.Timeout {
		e.timeouts++
	}
	now := time.Now()
	if now.Sub(e.lastLog) >= time.Second {
		e.lastLog, e.logged = now, 0
	}
	if e.logged < 5 {
		e.logged++
		if r := e.Router(); r != nil {
			r.Logf(e, "lua error: %s", e.lastErr)
		}
	}
	if e.maxErrors > 0 && e.consecutive >= uint64(e.maxErrors) && !e.disabled {
		e.disabled = true
		if r := e.Router(); r != nil {
			pol := "dropping"
			if e.policyPass {
				pol = "passing"
			}
			r.Logf(e, "disabled after %d consecutive errors, now %s packets (last: %s)", e.consecutive, pol, e.lastErr)
		}
	}
}

func (e *LuaElement) runTimer(ctx *core.Ctx) {
	next := e.interval
	if !e.disabled {
		e.calls++
		e.m.SetClock(ctx.Now)
		res, err := e.m.Call(e.timerFn, 1)
		switch {
		case err != nil:
			e.fail(err)
		case res[0] == glua.LFalse:
			return
		default:
			e.consecutive = 0
			if v, ok := res[0].(glua.LNumber); ok && v > 0 {
				next = time.Duration(float64(v) * float64(time.Second))
			}
		}
	}
	now := ctx.Now
	if now == 0 {
		now = time.Now().UnixNano()
	}
	e.timer.ScheduleAfter(now, next)
}

// Cleanup frees the packets waiting in the input queues and stops the
// budget watchdog of the state; the state itself stays for handler reads
// after the run (it holds no OS resources and goes with the element).
func (e *LuaElement) Cleanup(ctx *core.Ctx) {
	for i := range e.inq {
		q := &e.inq[i]
		for ; q.pos < q.b.N; q.pos++ {
			e.Drop(ctx, q.b.P[q.pos])
			q.b.P[q.pos] = nil
		}
		q.b.N, q.pos = 0, 0
	}
	if e.m != nil {
		e.m.StopWatchdog()
	}
}

// call runs a control-path call (timer, handlers) under the budget.
func (e *LuaElement) call(fn *glua.LFunction, nret int, args ...glua.LValue) ([]glua.LValue, error) {
	b := e.budget
	if b == 0 {
		b = time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), b)
	defer cancel()
	return e.m.CallContext(ctx, fn, nret, args...)
}

// Handlers lists the built-in handlers and the script's.
func (e *LuaElement) Handlers() []core.Handler {
	h := []core.Handler{
		core.ReadUint("errors", &e.errors),
		core.ReadUint("timeouts", &e.timeouts),
		core.ReadUint("calls", &e.calls),
		core.ReadUint("bad_port", &e.badPort),
		core.ReadUint("policy_packets", &e.policyPkts),
		core.ReadOnly("last_error", func() string { return e.lastErr }),
		core.ReadOnly("disabled", func() string { return strconv.FormatBool(e.disabled) }),
		core.Action("enable", func() { e.disabled, e.consecutive = false, 0 }),
		core.ReadOnly("held", func() string { return strconv.Itoa(e.held()) }),
		core.ReadOnly("counters", func() string {
			if e.m == nil {
				return ""
			}
			var b strings.Builder
			for _, c := range e.m.Counters() {
				fmt.Fprintf(&b, "%s %d\n", c.Name, c.Value)
			}
			return strings.TrimSuffix(b.String(), "\n")
		}),
	}
	return append(h, e.handlers...)
}

// scriptHandlers turns the script's handlers table into element handlers.
func (e *LuaElement) scriptHandlers() []core.Handler {
	t, ok := e.m.Global("handlers").(*glua.LTable)
	if !ok {
		return nil
	}
	var out []core.Handler
	t.ForEach(func(k, v glua.LValue) {
		name, ok := k.(glua.LString)
		if !ok {
			return
		}
		var rd, wr *glua.LFunction
		switch x := v.(type) {
		case *glua.LFunction:
			rd = x
		case *glua.LTable:
			rd, _ = x.RawGetString("read").(*glua.LFunction)
			wr, _ = x.RawGetString("write").(*glua.LFunction)
		default:
			return
		}
		h := core.Handler{Name: string(name)}
		if rd != nil {
			h.Read = func(arg string) (string, error) {
				if e.m == nil {
					return "", errors.New("element closed")
				}
				e.m.SetClock(0)
				res, err := e.call(rd, 1, glua.LString(arg))
				if err != nil {
					return "", err
				}
				if res[0] == glua.LNil {
					return "", nil
				}
				return e.m.L.ToStringMeta(res[0]).String(), nil
			}
		}
		if wr != nil {
			h.Write = func(val string) error {
				if e.m == nil {
					return errors.New("element closed")
				}
				e.m.SetClock(0)
				res, err := e.call(wr, 2, glua.LString(val))
				if err != nil {
					return err
				}
				if res[0] == glua.LFalse {
					if s, ok := res[1].(glua.LString); ok {
						return errors.New(string(s))
					}
					return errors.New("rejected")
				}
				return nil
			}
		}
		out = append(out, h)
	})
	return out
}

// TakeState carries state across a hot reconfiguration from the old
// element of the same name (see the class documentation): the packets
// waiting in its input queues, the script's "state" table (copied by
// value, or handed to take_state(old, info)) and, when the script source
// and ARGS are unchanged, the counters. The old state's watchdog is
// stopped (a kept element gets no Cleanup); the old state stays readable.
func (e *LuaElement) TakeState(old core.Element) {
	o, ok := old.(*LuaElement)
	if !ok || o == e || o.m == nil || e.m == nil {
		return
	}
	defer o.m.StopWatchdog()
	// Packets pulled from upstream and not yet taken by the script.
	for i := range o.inq {
		oq := &o.inq[i]
		if i < len(e.inq) && e.inq[i].b.N == 0 {
			for ; oq.pos < oq.b.N; oq.pos++ {
				e.inq[i].b.P[e.inq[i].b.N] = oq.b.P[oq.pos]
				e.inq[i].b.N++
				oq.b.P[oq.pos] = nil
			}
			oq.b.N, oq.pos = 0, 0
		}
		// otherwise the old element keeps them (the new one has no such
		// input); they are lost with it
	}
	same := e.m.Prog.Hash == o.m.Prog.Hash && e.args == o.args
	st := e.m.CopyValue(o.m.Global("state"))
	if fn := e.m.Func("take_state"); fn != nil {
		info := e.m.L.NewTable()
		info.RawSetString("same", glua.LBool(same))
		e.m.SetClock(0)
		if _, err := e.call(fn, 0, st, info); err != nil {
			e.fail(err)
		}
	} else if same && st != glua.LNil {
		e.m.L.SetGlobal("state", st)
	}
	if !same {
		return
	}
	e.calls += o.calls
	e.errors += o.errors
	e.timeouts += o.timeouts
	e.badPort += o.badPort
	e.policyPkts += o.policyPkts
	e.Drops += o.Drops
	if e.lastErr == "" {
		e.lastErr = o.lastErr
	}
	for _, c := range o.m.Counters() {
		e.m.Counter(c.Name).Value += c.Value
	}
}
