package luaerr

import (
	"errors"
	"testing"

	glua "github.com/yuin/gopher-lua"
)

func TestCompileErrors(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{"x = = 1", "f.lua:1: syntax error near '='"},
		{"x = 1\n\nfunction f()\n  return 1 +\nend\n", "f.lua:5: syntax error near 'end'"},
		{"function f()\n  return 1\n\n  \n", "f.lua:2: syntax error at EOF"},
		{"s = 'open\nx = 1", "f.lua:1: unterminated string near 'open'"},
		{"x = 1\ns = 'open", "f.lua:2: unterminated string at EOF"},
		{"x = 1\ngoto nowhere\n", "f.lua:2: no visible label 'nowhere' for <goto> at line 2"},
	} {
		_, err := Compile(c.src, "f.lua")
		if err == nil || err.Error() != c.want {
			t.Errorf("Compile(%q) = %v, want %s", c.src, err, c.want)
		}
		var e *Error
		if !errors.As(err, &e) || e.Source != "f.lua" || e.Line < 1 {
			t.Errorf("Compile(%q): %#v is not an *Error with a line", c.src, err)
		}
	}
	if _, err := Compile("return 1", "f.lua"); err != nil {
		t.Fatal(err)
	}
}

func TestMessage(t *testing.T) {
	L := glua.NewState()
	defer L.Close()
	proto, err := Compile("local x = 1\nerror('boom')\n", "f.lua")
	if err != nil {
		t.Fatal(err)
	}
	L.Push(L.NewFunctionFromProto(proto))
	err = L.PCall(0, 0, nil)
	if err == nil || Message(err) != "f.lua:2: boom" {
		t.Fatalf("Message(%v) = %q", err, Message(err))
	}
}
