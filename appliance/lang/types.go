// Package lang parses the Click configuration language into a flat graph:
// compounds and element classes expanded, variables substituted, every
// element named (anonymous ones Class@N, compound members outer/inner).
// Push/pull resolution and class checks belong to the runtime.
package lang

import (
	"fmt"
	"sort"
	"strings"
)

// Pos is a position in a source file (1-based line and column).
type Pos struct {
	File string
	Line int
	Col  int
}

func (p Pos) String() string { return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col) }

// Element is one primitive element of the flattened graph.
type Element struct {
	Name      string // full name: "c", "Counter@3", "outer/inner"
	Class     string // a primitive class name (compounds are expanded)
	Config    string // configuration string, variables substituted
	Pos       Pos    // where it was declared (or used, if anonymous)
	Anonymous bool
}

// Connection joins output FromPort of Elements[From] to input ToPort of
// Elements[To].
type Connection struct {
	From, FromPort int
	To, ToPort     int
	Pos            Pos
}

// Graph is a parsed, flattened configuration.
type Graph struct {
	Elements     []*Element
	Connections  []Connection
	Requirements []string          // require(...) entries, as written
	Sources      map[string][]byte // file name -> text, for error snippets
}

// Options control parsing.
type Options struct {
	// Defines are command-line VAR=value settings; they override the
	// file's global define($VAR ...) values.
	Defines map[string]string
	// IsClass reports whether name is a known primitive element class.
	// Used to tell "x :: Foo" from references, and for "class used as
	// element name" errors. Nil means every capitalised unknown word is a
	// class.
	IsClass func(name string) bool
	// ClassNames, if set, lists the primitive classes, for "did you mean"
	// hints on undeclared elements (a mistyped class is one).
	ClassNames func() []string
	// ReadFile loads files named by require(library FILE); nil forbids it.
	ReadFile func(name string) ([]byte, error)
	// KeepUndefined leaves references to undefined variables ($X) in
	// config strings as written, as Click itself does (Script elements use
	// $x for their own variables). By default they are errors.
	KeepUndefined bool
}

// Error is one located error.
type Error struct {
	Pos     Pos
	Msg     string
	Snippet string // the source line and a caret under the column
}

func (e *Error) Error() string {
	if e.Snippet == "" {
		return e.Pos.String() + ": " + e.Msg
	}
	return e.Pos.String() + ": " + e.Msg + "\n" + e.Snippet
}

// ErrorList is every error found in one run, in source order.
type ErrorList []*Error

func (l ErrorList) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Sort orders errors by file, line and column.
func (l ErrorList) Sort() {
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i].Pos, l[j].Pos
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
}

// NewError builds a located error with a caret snippet taken from sources.
func NewError(sources map[string][]byte, pos Pos, format string, args ...any) *Error {
	return &Error{Pos: pos, Msg: fmt.Sprintf(format, args...), Snippet: Snippet(sources[pos.File], pos)}
}

// Snippet renders the source line at pos with a caret under the column.
func Snippet(src []byte, pos Pos) string {
	if src == nil || pos.Line < 1 {
		return ""
	}
	lines := strings.Split(string(src), "\n")
	if pos.Line > len(lines) {
		return ""
	}
	line := strings.TrimRight(lines[pos.Line-1], "\r")
	col := pos.Col
	if col < 1 {
		col = 1
	}
	// Keep tabs in the caret line so it lines up under tabbed source.
	var pad strings.Builder
	for i := 0; i < col-1 && i < len(line); i++ {
		if line[i] == '\t' {
			pad.WriteByte('\t')
		} else {
			pad.WriteByte(' ')
		}
	}
	return "    " + line + "\n    " + pad.String() + "^"
}
