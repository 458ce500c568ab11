// Package luaerr compiles Lua chunks with gopher-lua and reports errors the
// way flowbox reports configuration errors: the source named once,
// followed by the line, then the message ("scripts/f.lua:3: syntax error
// near 'end'", "e.CODE:1: ..."). gopher-lua's own messages repeat the
// chunk name when wrapped ("x.lua: x.lua line:3(column:3) near 'end':
// syntax error"), give no line at end of input, and carry a stack
// traceback on run-time errors.
//
// It depends on nothing but gopher-lua, so both flowbox/lua and tracebox
// use it.
package luaerr

import (
	"errors"
	"fmt"
	"strings"

	glua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
)

// Error is a compile (syntax) error: Source:Line: Msg.
type Error struct {
	Source string // chunk name: the file as given, or ELEMENT.CODE
	Line   int    // 1-based; 0 when unknown
	Msg    string // "syntax error near 'end'", "syntax error at EOF", ...
}

func (e *Error) Error() string {
	if e.Line <= 0 {
		return e.Source + ": " + e.Msg
	}
	return fmt.Sprintf("%s:%d: %s", e.Source, e.Line, e.Msg)
}

// Compile parses and compiles src under the chunk name name (used by
// run-time errors too: "name:LINE: message"). Errors are *Error.
func Compile(src, name string) (*glua.FunctionProto, error) {
	chunk, err := parse.Parse(strings.NewReader(src), name)
	if err != nil {
		return nil, syntaxError(src, name, err)
	}
	proto, err := glua.Compile(chunk, name)
	if err != nil {
		var ce *glua.CompileError
		if errors.As(err, &ce) {
			// gopher-lua reports errors found at the end of a
			// function one line past it.
			return nil, &Error{Source: name, Line: min(ce.Line, lastLine(src)), Msg: ce.Message}
		}
		return nil, &Error{Source: name, Msg: oneLine(err.Error())}
	}
	return proto, nil
}

func syntaxError(src, name string, err error) *Error {
	var pe *parse.Error
	if !errors.As(err, &pe) {
		// Not a parser error (a reader error cannot happen with a
		// strings.Reader); keep the text, drop gopher-lua's name.
		msg := oneLine(err.Error())
		msg = strings.TrimSpace(strings.TrimPrefix(msg, name))
		return &Error{Source: name, Msg: msg}
	}
	if pe.Pos.Line == parse.EOF {
		// gopher-lua has no position at the end of input: the last
		// line with something on it is where the construct was left
		// open.
		return &Error{Source: name, Line: lastLine(src), Msg: pe.Message + " at EOF"}
	}
	line := pe.Pos.Line
	if pe.Pos.Column == 0 && line > 1 {
		// Column 0: the scanner stopped on the newline ending the
		// previous line (an unterminated string).
		line--
	}
	return &Error{Source: name, Line: line, Msg: fmt.Sprintf("%s near '%s'", pe.Message, oneLine(pe.Token))}
}

// lastLine is the number of the last line of src with something on it.
func lastLine(src string) int {
	return strings.Count(strings.TrimRight(src, " \t\r\n"), "\n") + 1
}

// Message is the text of a run-time error raised by Lua code: the error
// value ("f.lua:2: boom", with the location Lua added) without gopher-lua's
// stack traceback, on one line.
func Message(err error) string {
	var ae *glua.ApiError
	if errors.As(err, &ae) && ae.Object != nil {
		return oneLine(ae.Object.String())
	}
	return oneLine(err.Error())
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	return s
}
