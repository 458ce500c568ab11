package lua_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"flowbox/lua"
	"flowbox/lua/luaerr"
)

// Compile and run-time errors name their source once, then the line:
// "FILE:LINE: message" (the path as given), "NAME:LINE: message" for
// inline code (LuaElement passes ELEMENT.CODE), "lua:LINE: message" in
// the shell's `lua EXPR`.
func TestErrorMessages(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.lua")
	os.WriteFile(bad, []byte("function push(port, p)\n  return 1 +\nend\n"), 0o644)
	if _, err := lua.CompileFile(bad); err == nil || err.Error() != bad+":3: syntax error near 'end'" {
		t.Errorf("CompileFile syntax error: %v", err)
	}
	var le *luaerr.Error
	if _, err := lua.CompileFile(bad); !errors.As(err, &le) || le.Source != bad || le.Line != 3 {
		t.Errorf("CompileFile error is not a *luaerr.Error at line 3: %#v", err)
	}
	if _, err := lua.LoadHooks(bad, lua.HookOptions{}); err == nil || err.Error() != bad+":3: syntax error near 'end'" {
		t.Errorf("LoadHooks syntax error: %v", err)
	}
	for _, c := range []struct{ code, want string }{
		{"function push(port, p) return 1 + end", "x.CODE:1: syntax error near 'end'"},
		{"function push(port, p)\n  return 0\n\n", "x.CODE:2: syntax error at EOF"},
		{"x = 1\ns = 'open", "x.CODE:2: unterminated string at EOF"},
		{"goto nowhere", "x.CODE:1: no visible label 'nowhere' for <goto> at line 1"},
	} {
		if _, err := lua.CompileString("x.CODE", c.code); err == nil || err.Error() != c.want {
			t.Errorf("CompileString(%q): %v, want %s", c.code, err, c.want)
		}
	}

	rt := filepath.Join(dir, "rt.lua")
	os.WriteFile(rt, []byte("function push(port, p)\n  local t = nil\n  return t.port\nend\n"), 0o644)
	prog, err := lua.CompileFile(rt)
	if err != nil {
		t.Fatal(err)
	}
	m, err := lua.NewMachine(prog, lua.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.Call(m.Func("push"), 1); err == nil || err.Error() != rt+":3: attempt to index a non-table object(nil) with key 'port'" {
		t.Errorf("run-time error: %v", err)
	}
	prog, _ = lua.CompileString("x.CODE", "x = 1\nerror('at load')")
	if _, err := lua.NewMachine(prog, lua.Options{}); err == nil || err.Error() != "x.CODE:2: at load" {
		t.Errorf("top-level error: %v", err)
	}

	cs := lua.NewControlState(nil, nil)
	defer cs.Close()
	for _, c := range []struct{ expr, want string }{
		{"1 +", "lua:1: syntax error near '1'"},
		{"x = ", "lua:1: syntax error at EOF"},
		{"error('boom')", "lua:1: boom"},
		{"error('bare', 0)", "lua: bare"},
		{"read('c.count')", "lua:1: read: no handlers available"},
	} {
		if _, err := cs.Eval(c.expr); err == nil || err.Error() != c.want {
			t.Errorf("Eval(%q): %v, want %s", c.expr, err, c.want)
		}
	}
}
