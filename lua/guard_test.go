package lua_test

import (
	"strings"
	"testing"
	"time"

	"flowbox/lua"
)

// TestRunawayStopped: a guarded machine stops infinite loops, runaway
// recursion through pcall, and is usable afterwards.
func TestRunawayStopped(t *testing.T) {
	prog, err := lua.CompileString("spin.lua", `
function spin() while true do end end
function rec() local function f() pcall(f) pcall(f) end f() end
function ok() return 1 end
function caught() pcall(spin) return "escaped" end`)
	if err != nil {
		t.Fatal(err)
	}
	m, err := lua.NewMachine(prog, lua.Options{Budget: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for _, fn := range []string{"spin", "rec", "caught"} {
		start := time.Now()
		_, err := m.Call(m.Func(fn), 1)
		d := time.Since(start)
		se, ok := err.(*lua.ScriptError)
		if !ok || !se.Timeout || !strings.Contains(se.Msg, "spin.lua:") || !strings.Contains(se.Msg, "time budget (20ms) exceeded") {
			t.Fatalf("%s: %v", fn, err)
		}
		t.Logf("%s stopped after %v", fn, d)
		if d < 20*time.Millisecond || d > 2*time.Second {
			t.Fatalf("%s stopped after %v", fn, d)
		}
		res, err := m.Call(m.Func("ok"), 1)
		if err != nil || res[0].String() != "1" {
			t.Fatalf("after %s: %v %v", fn, res, err)
		}
	}
	// a runaway top level fails NewMachine
	p2, _ := lua.CompileString("top.lua", `while true do end`)
	if _, err := lua.NewMachine(p2, lua.Options{Budget: 10 * time.Millisecond}); err == nil {
		t.Fatal("runaway chunk accepted")
	}
}

// BenchmarkGuardCost measures the per-instruction cost of the installed
// context (gopher-lua's mainLoopWithContext) on a tight Lua loop, and the
// per-call cost of the guard.
func BenchmarkGuardCost(b *testing.B) {
	prog, _ := lua.CompileString("loop.lua", `
function loop(n) local x = 0 for i = 1, n do x = x + i end return x end
function empty() end`)
	for _, c := range []struct {
		name   string
		budget time.Duration
	}{{"nobudget", 0}, {"budget", time.Second}} {
		m, err := lua.NewMachine(prog, lua.Options{Budget: c.budget})
		if err != nil {
			b.Fatal(err)
		}
		loop, empty := m.Func("loop"), m.Func("empty")
		b.Run("loop1000/"+c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				m.Call(loop, 1, lua.Number(1000))
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/iter")
		})
		b.Run("call/"+c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				m.Call(empty, 0)
			}
		})
		m.Close()
	}
}
