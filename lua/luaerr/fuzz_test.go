package luaerr

import (
	"strings"
	"testing"
)

// FuzzCompile: any source compiles or fails with one *Error, on one line,
// naming the chunk once; never a panic (a bad script must not take the
// appliance down at configuration time).
func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		"", "return 1", "function push(port, p) return 0 end",
		"return 1 +", "x = 'unterminated\n", "for i = 1, do end", "goto nowhere",
		"local function f() return end end", "::a:: ::a::", "return 0x", "--[[ open",
		"a = {1, 2,, 3}", "return ...", "local x <const> = 1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		_, err := Compile(src, "fz.lua")
		if err == nil {
			return
		}
		e, ok := err.(*Error)
		if !ok {
			t.Fatalf("error of type %T: %v", err, err)
		}
		msg := e.Error()
		if strings.ContainsRune(msg, '\n') {
			t.Fatalf("error spans lines: %q", msg)
		}
		if !strings.HasPrefix(msg, "fz.lua") || strings.Count(msg, "fz.lua") > 1+strings.Count(src, "fz.lua") {
			t.Fatalf("chunk name not named once: %q", msg)
		}
	})
}
