package lua_test

import (
	"path/filepath"
	"testing"

	"flowbox/lua"
	"flowbox/lua/luatest"
)

// TestLuaFiles runs every testdata/*_test.lua file; each global TestXxx(t)
// function is a subtest.
func TestLuaFiles(t *testing.T) {
	files, err := filepath.Glob("testdata/*_test.lua")
	if err != nil || len(files) == 0 {
		t.Fatalf("no Lua test files: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			luatest.RunFile(t, f, lua.Options{})
		})
	}
}
