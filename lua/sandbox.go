package lua

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	glua "github.com/yuin/gopher-lua"
)

// Options configure a sandboxed state.
type Options struct {
	// Dirs are the directories require may load NAME.lua from, searched
	// in order. ScriptsDir is always appended.
	Dirs []string
	// Budget is the time budget of one protected call (0: unlimited).
	Budget time.Duration
	// Log receives script log lines (level is "info", "warn" or "error").
	// Nil discards them.
	Log func(level, msg string)
	// LogBurst is the most log lines a state emits per second (default 20);
	// the rest are counted as suppressed.
	LogBurst int
	// Now returns Unix nanoseconds for now(); nil uses the wall clock.
	Now func() int64
}

// Limits applied to every state.
const (
	callStackSize   = 200
	registrySize    = 1024
	registryMaxSize = 256 * 1024
	maxStringRep    = 1 << 20 // string.rep result limit (bytes)
)

// env is the Go side of one state: logging, counters, require.
type env struct {
	opts       Options
	dirs       []string
	loaded     map[string]glua.LValue
	loading    map[string]bool
	counters   []*Counter
	logSec     int64
	logN       int
	Suppressed uint64
	clock      int64 // Unix ns set by the caller per batch; 0: wall clock
}

// newState builds a sandboxed state with flowbox's libraries installed.
func newState(o Options) (*glua.LState, *env) {
	L := glua.NewState(glua.Options{
		SkipOpenLibs:    true,
		CallStackSize:   callStackSize,
		RegistrySize:    registrySize,
		RegistryMaxSize: registryMaxSize,
	})
	for _, lib := range []struct {
		name string
		fn   glua.LGFunction
	}{
		{glua.BaseLibName, glua.OpenBase},
		{glua.TabLibName, glua.OpenTable},
		{glua.StringLibName, glua.OpenString},
		{glua.MathLibName, glua.OpenMath},
	} {
		L.Push(L.NewFunction(lib.fn))
		L.Push(glua.LString(lib.name))
		L.Call(1, 0)
	}
	e := &env{opts: o, loaded: map[string]glua.LValue{}, loading: map[string]bool{}}
	if e.opts.LogBurst <= 0 {
		e.opts.LogBurst = 20
	}
	for _, d := range append(append([]string(nil), o.Dirs...), ScriptsDir) {
		if d == "" {
			continue
		}
		if abs, err := filepath.Abs(d); err == nil {
			e.dirs = append(e.dirs, abs)
		}
	}
	g := L.G.Global
	// Remove what could reach files, code loading or the Go runtime.
	for _, name := range []string{"dofile", "loadfile", "load", "loadstring", "collectgarbage",
		"getfenv", "setfenv", "module", "newproxy"} {
		g.RawSetString(name, stubFunc(L, name))
	}
	for _, name := range []string{"io", "os", "debug", "package", "coroutine", "channel"} {
		g.RawSetString(name, stubTable(L, name))
	}
	// string.rep without a size limit is a one-instruction memory bomb.
	if st, ok := g.RawGetString("string").(*glua.LTable); ok {
		rep := st.RawGetString("rep").(*glua.LFunction)
		st.RawSetString("rep", L.NewFunction(func(L *glua.LState) int {
			s := L.CheckString(1)
			n := L.CheckInt(2)
			if n > 0 && int64(len(s))*int64(n) > maxStringRep {
				L.RaiseError("string.rep: result larger than %d bytes", maxStringRep)
			}
			L.Push(rep)
			L.Push(glua.LString(s))
			L.Push(glua.LNumber(n))
			L.Call(2, 1)
			return 1
		}))
	}
	g.RawSetString("require", L.NewFunction(e.require))
	e.installLog(L)
	e.installCounters(L)
	installNet(L)
	installPacketTypes(L)
	g.RawSetString("now", L.NewFunction(func(L *glua.LState) int {
		L.Push(glua.LNumber(float64(e.now()) / 1e9))
		return 1
	}))
	g.RawSetString("now_ms", L.NewFunction(func(L *glua.LState) int {
		L.Push(glua.LNumber(e.now() / 1e6))
		return 1
	}))
	return L, e
}

func (e *env) now() int64 {
	if e.clock != 0 {
		return e.clock
	}
	if e.opts.Now != nil {
		return e.opts.Now()
	}
	return time.Now().UnixNano()
}

func stubFunc(L *glua.LState, name string) *glua.LFunction {
	return L.NewFunction(func(L *glua.LState) int {
		L.RaiseError("sandbox: %s is not available", name)
		return 0
	})
}

// stubTable is a table whose every field access raises a sandbox error.
func stubTable(L *glua.LState, name string) *glua.LTable {
	t := L.NewTable()
	mt := L.NewTable()
	mt.RawSetString("__index", L.NewFunction(func(L *glua.LState) int {
		L.RaiseError("sandbox: %s.%s is not available", name, L.OptString(2, "?"))
		return 0
	}))
	mt.RawSetString("__newindex", L.NewFunction(func(L *glua.LState) int {
		L.RaiseError("sandbox: %s is read-only", name)
		return 0
	}))
	mt.RawSetString("__metatable", glua.LString("sandbox"))
	L.SetMetatable(t, mt)
	return t
}

// require loads NAME.lua from the allowed directories only. Module names
// use dots for subdirectories; "..", absolute paths and separators are
// refused.
func (e *env) require(L *glua.LState) int {
	name := L.CheckString(1)
	if v, ok := e.loaded[name]; ok {
		L.Push(v)
		return 1
	}
	if name == "" || strings.Contains(name, "..") || strings.ContainsAny(name, `/\:`) || strings.HasPrefix(name, ".") {
		L.RaiseError("sandbox: require %q: invalid module name", name)
	}
	if e.loading[name] {
		L.RaiseError("require %q: circular require", name)
	}
	rel := strings.ReplaceAll(name, ".", string(filepath.Separator)) + ".lua"
	var path string
	for _, d := range e.dirs {
		p := filepath.Join(d, rel)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			path = p
			break
		}
	}
	if path == "" {
		L.RaiseError("require %q: module not found in %s", name, strings.Join(e.dirs, ", "))
	}
	prog, err := compileModule(path)
	if err != nil {
		L.RaiseError("require %q: %v", name, err)
	}
	e.loading[name] = true
	defer delete(e.loading, name)
	L.Push(L.NewFunctionFromProto(prog.proto))
	L.Push(glua.LString(name))
	L.Call(1, 1)
	v := L.Get(-1)
	L.Pop(1)
	if v == glua.LNil {
		v = glua.LTrue
	}
	e.loaded[name] = v
	L.Push(v)
	return 1
}

// ---- logging ----

func (e *env) installLog(L *glua.LState) {
	t := L.NewTable()
	for _, lvl := range []string{"info", "warn", "error"} {
		lvl := lvl
		t.RawSetString(lvl, L.NewFunction(func(L *glua.LState) int {
			e.logf(L, lvl, 1)
			return 0
		}))
	}
	L.G.Global.RawSetString("log", t)
	L.G.Global.RawSetString("print", L.NewFunction(func(L *glua.LState) int {
		e.logf(L, "info", 1)
		return 0
	}))
}

// logf joins the arguments from index first with spaces (tostring) and
// emits them, rate-limited to LogBurst lines per second.
func (e *env) logf(L *glua.LState, level string, first int) {
	if e.opts.Log == nil {
		return
	}
	sec := e.now() / 1e9
	if sec != e.logSec {
		e.logSec, e.logN = sec, 0
	}
	if e.logN >= e.opts.LogBurst {
		e.Suppressed++
		return
	}
	e.logN++
	var b strings.Builder
	for i := first; i <= L.GetTop(); i++ {
		if i > first {
			b.WriteByte(' ')
		}
		b.WriteString(L.ToStringMeta(L.Get(i)).String())
	}
	e.opts.Log(level, b.String())
}

// ---- counters ----

// Counter is a named 64-bit counter a script created with counter(name).
type Counter struct {
	Name  string
	Value uint64
}

func (e *env) installCounters(L *glua.LState) {
	mt := L.NewTypeMetatable("flowbox.counter")
	methods := L.NewTable()
	methods.RawSetString("inc", L.NewFunction(func(L *glua.LState) int {
		c := checkCounter(L)
		c.Value += uint64(L.OptInt64(2, 1))
		return 0
	}))
	methods.RawSetString("get", L.NewFunction(func(L *glua.LState) int {
		L.Push(glua.LNumber(checkCounter(L).Value))
		return 1
	}))
	methods.RawSetString("reset", L.NewFunction(func(L *glua.LState) int {
		checkCounter(L).Value = 0
		return 0
	}))
	mt.RawSetString("__index", methods)
	// counter(name) returns the counter of that name, creating it; look it
	// up once (at load or in init) and call c:inc() per packet.
	L.G.Global.RawSetString("counter", L.NewFunction(func(L *glua.LState) int {
		name := L.CheckString(1)
		var c *Counter
		for _, x := range e.counters {
			if x.Name == name {
				c = x
			}
		}
		if c == nil {
			c = &Counter{Name: name}
			e.counters = append(e.counters, c)
		}
		ud := L.NewUserData()
		ud.Value = c
		L.SetMetatable(ud, mt)
		L.Push(ud)
		return 1
	}))
}

func checkCounter(L *glua.LState) *Counter {
	if ud, ok := L.Get(1).(*glua.LUserData); ok {
		if c, ok := ud.Value.(*Counter); ok {
			return c
		}
	}
	L.ArgError(1, "counter expected")
	return nil
}

func fmtErr(err error) string {
	if ae, ok := err.(*glua.ApiError); ok && ae.Object != nil {
		return ae.Object.String()
	}
	return fmt.Sprint(err)
}
