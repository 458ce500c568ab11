package luaelement

import (
	"os"
	"path/filepath"
	"testing"

	"flowbox/elements/elemtest"
)

// Lua errors name their source once, then the line, then gopher-lua's
// message: "ELEMENT.CODE:LINE: message" for inline code, "FILE:LINE:
// message" for a SCRIPT (the path as configured).
func TestLuaErrorMessages(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.lua")
	os.WriteFile(bad, []byte("function push(port, p)\n  return 1 +\nend\n"), 0o644)
	open := filepath.Join(dir, "open.lua")
	os.WriteFile(open, []byte("function push(port, p)\n  return 0\n\n"), 0o644)
	top := filepath.Join(dir, "top.lua")
	os.WriteFile(top, []byte("local x = 1\nerror('not today')\n"), 0o644)
	for _, c := range []struct{ config, want string }{
		{"CODE " + quote("function push(port, p) return 1 + end"), "e.CODE:1: syntax error near 'end'"},
		{"CODE " + quote("x = 1\nfunction push(port, p)\n  return 0\n"), "e.CODE:3: syntax error at EOF"},
		{"CODE " + quote("x = 1\nerror('not today')"), "e.CODE:2: not today"},
		{"SCRIPT " + bad, bad + ":3: syntax error near 'end'"},
		{"SCRIPT " + open, open + ":2: syntax error at EOF"},
		{"SCRIPT " + top, top + ":2: not today"},
	} {
		_, err := elemtest.Build(t, "LuaElement", c.config, elemtest.Options{Inputs: 1, Outputs: 1})
		if err == nil || err.Error() != c.want {
			t.Errorf("%s:\n got  %v\n want %s", c.config, err, c.want)
		}
	}

	// Run-time errors in push are counted and reported the same way.
	rt := filepath.Join(dir, "rt.lua")
	os.WriteFile(rt, []byte("function push(port, p)\n  local t = nil\n  return t.port\nend\n"), 0o644)
	for _, c := range []struct{ config, want string }{
		{"CODE " + quote("function push(port, p)\n  error('boom')\nend"), "e.CODE:2: boom"},
		{"SCRIPT " + rt, rt + ":3: attempt to index a non-table object(nil) with key 'port'"},
	} {
		h := elemtest.New(t, "LuaElement", c.config, 1, 1)
		h.Push(0, mixedFrames()[0])
		if h.Read("errors") != "1" || h.Read("last_error") != c.want {
			t.Errorf("%s: errors=%s last_error=%q, want %q", c.config, h.Read("errors"), h.Read("last_error"), c.want)
		}
	}
}
