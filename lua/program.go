// Package lua embeds sandboxed Lua (github.com/yuin/gopher-lua) in flowbox:
// scripted elements (elements/luaelement), policy hooks (LoadHooks) and the
// control-plane `lua EXPR` shell command (NewControlState).
//
// Design:
//   - A script is parsed and compiled once into a Program (shared, read-only
//     bytecode); every worker instantiates it into its own sandboxed LState
//     (gopher-lua states are not goroutine safe).
//   - Sandbox: only base (without dofile/loadfile/load/loadstring/
//     collectgarbage/getfenv/setfenv), table, string and math are opened;
//     io, os, debug, coroutine and package are absent (names that scripts
//     commonly reach for are replaced by stubs that raise "sandbox: ...").
//     require loads NAME.lua only from the configured directories.
//   - The packet API is userdata re-pointed at each packet of a batch: no
//     userdata is created per packet (see packet.go).
//   - Time budgets: a per-state context installed once and cancelled by a
//     shared watchdog goroutine when a call overruns (guard.go).
package lua

import (
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"sync"

	"flowbox/lua/luaerr"

	glua "github.com/yuin/gopher-lua"
)

// Program is a compiled script: bytecode shared by every state that runs it.
type Program struct {
	Name string // chunk name used in error messages (the file path as given)
	Dir  string // directory of the script file ("" for inline code)
	// Hash is the SHA-256 of the source text: two programs with the same
	// Hash run the same script (hot reconfiguration compares them).
	Hash  [32]byte
	proto *glua.FunctionProto
}

// CompileFile parses and compiles a script file. Compiled programs are
// cached by path, size and modification time, so elements running the
// same script share one compilation and an edited file is recompiled.
func CompileFile(path string) (*Program, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	key := fileKey{path, st.Size(), st.ModTime().UnixNano()}
	if p, ok := fileCache.Load(key); ok {
		return p.(*Program), nil
	}
	p, err := compileFile(path)
	if err == nil {
		fileCache.Store(key, p)
	}
	return p, err
}

type fileKey struct {
	path  string
	size  int64
	mtime int64
}

var fileCache sync.Map // fileKey -> *Program

func compileFile(path string) (*Program, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	proto, err := luaerr.Compile(string(src), path)
	if err != nil {
		return nil, err
	}
	return &Program{Name: path, Dir: filepath.Dir(path), Hash: sha256.Sum256(src), proto: proto}, nil
}

// CompileString compiles inline code; name is used in error messages.
//
// Compile errors are *luaerr.Error and name the source once:
// "NAME:LINE: syntax error near 'end'" (CompileFile: the path as given).
func CompileString(name, code string) (*Program, error) {
	proto, err := luaerr.Compile(code, name)
	if err != nil {
		return nil, err
	}
	return &Program{Name: name, Hash: sha256.Sum256([]byte(code)), proto: proto}, nil
}

// compileModule compiles a module found by require (cached like any
// file: compiled once per process, instantiated per state).
func compileModule(path string) (*Program, error) {
	return CompileFile(path)
}

// ScriptsDir is the repository's scripts directory that require may always
// load from, in addition to a script's own directory. The runtime may set
// it at start-up (relative to the working directory).
var ScriptsDir = "scripts"

// ErrSandbox marks sandbox violations reported by stubs.
var ErrSandbox = errors.New("sandbox")
