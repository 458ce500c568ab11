package lua_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"flowbox/lua"
)

func TestCompileFileCache(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.lua")
	os.WriteFile(path, []byte("x = 1"), 0o644)
	a, err := lua.CompileFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := lua.CompileFile(path)
	if a != b {
		t.Fatal("same file compiled twice")
	}
	os.WriteFile(path, []byte("x = 22"), 0o644)
	os.Chtimes(path, time.Now(), time.Now().Add(time.Second))
	c, _ := lua.CompileFile(path)
	if c == a {
		t.Fatal("edited file not recompiled")
	}
	os.WriteFile(path, []byte("x = = 1"), 0o644)
	os.Chtimes(path, time.Now(), time.Now().Add(2*time.Second))
	if _, err := lua.CompileFile(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("syntax error: %v", err)
	}
}
