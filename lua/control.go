package lua

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	glua "github.com/yuin/gopher-lua"
)

// ControlState is the control-plane Lua state behind the shell's
// `lua EXPR` command. Globals persist between evaluations. It has the
// sandboxed libraries plus:
//
//	read("elem.handler" [, arg])  -> string (raises on error)
//	write("elem.handler", value)  -> nothing (raises on error)
//	print(...)                    -> appended to the evaluation's output
type ControlState struct {
	mu      sync.Mutex
	m       *Machine
	out     strings.Builder
	Timeout time.Duration // per evaluation, default 5s
}

// NewControlState builds a control-plane state; read and write reach the
// router's handlers (either may be nil).
func NewControlState(read func(h string) (string, error), write func(h, v string) error) *ControlState {
	cs := &ControlState{Timeout: 5 * time.Second}
	prog, _ := CompileString("lua", "")
	m, err := NewMachine(prog, Options{Log: func(_, msg string) {
		cs.out.WriteString(msg)
		cs.out.WriteByte('\n')
	}, LogBurst: 1 << 30})
	if err != nil {
		panic("lua: empty control program failed: " + err.Error()) // cannot happen
	}
	cs.m = m
	L := m.L
	L.SetGlobal("read", L.NewFunction(func(L *glua.LState) int {
		if read == nil {
			L.RaiseError("read: no handlers available")
		}
		h := L.CheckString(1)
		if arg := L.OptString(2, ""); arg != "" {
			h += " " + arg
		}
		v, err := read(h)
		if err != nil {
			L.RaiseError("read %s: %v", h, err)
		}
		L.Push(glua.LString(strings.TrimRight(v, "\n")))
		return 1
	}))
	L.SetGlobal("write", L.NewFunction(func(L *glua.LState) int {
		if write == nil {
			L.RaiseError("write: no handlers available")
		}
		h := L.CheckString(1)
		v := ""
		if L.GetTop() >= 2 {
			v = L.ToStringMeta(L.Get(2)).String()
		}
		if err := write(h, v); err != nil {
			L.RaiseError("write %s: %v", h, err)
		}
		return 0
	}))
	return cs
}

// Eval evaluates an expression ("1+1", "read('c.count')") or statements
// ("x = 3; for i=1,x do print(i) end") and returns what was printed
// followed by the returned values (tab-separated, tables rendered).
func (cs *ControlState) Eval(expr string) (string, error) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.m == nil {
		return "", errors.New("lua: control state closed")
	}
	prog, err := CompileString("lua", "return "+expr)
	if err != nil {
		prog, err = CompileString("lua", expr)
		if err != nil {
			return "", err
		}
	}
	cs.out.Reset()
	fn := cs.m.L.NewFunctionFromProto(prog.proto)
	ctx, cancel := context.WithTimeout(context.Background(), cs.Timeout)
	defer cancel()
	res, err := cs.m.CallContext(ctx, fn, -1)
	out := cs.out.String()
	if err != nil {
		return out, err
	}
	if len(res) > 0 {
		out += format(res)
	}
	return strings.TrimRight(out, "\n"), nil
}

// Close releases the state.
func (cs *ControlState) Close() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.m != nil {
		cs.m.Close()
		cs.m = nil
	}
}
