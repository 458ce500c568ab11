package core

import (
	"fmt"
	"strconv"
)

// Handler is a named text endpoint on an element (Click's handlers). Read
// receives the parameter text of a "read with parameters" (usually empty).
// Write receives the value written. Either may be nil.
//
// The runtime calls handlers on the element's worker thread between
// batches, so they may touch element state without locks.
type Handler struct {
	Name  string
	Read  func(arg string) (string, error)
	Write func(value string) error
	// Raw marks a handler whose value is printed without a trailing
	// newline being added (binary data).
	Raw bool
}

// Mode is "r", "w" or "rw" as the `handlers` handler lists it.
func (h Handler) Mode() string {
	switch {
	case h.Read != nil && h.Write != nil:
		return "rw"
	case h.Write != nil:
		return "w"
	}
	return "r"
}

// ReadOnly builds a read handler from a value function.
func ReadOnly(name string, f func() string) Handler {
	return Handler{Name: name, Read: func(string) (string, error) { return f(), nil }}
}

// ReadUint is a read handler printing an unsigned counter.
func ReadUint(name string, v *uint64) Handler {
	return ReadOnly(name, func() string { return strconv.FormatUint(*v, 10) })
}

// WriteOnly builds a write handler.
func WriteOnly(name string, f func(string) error) Handler {
	return Handler{Name: name, Write: f}
}

// Action is a write handler that ignores its value (reset, stop, ...).
func Action(name string, f func()) Handler {
	return Handler{Name: name, Write: func(string) error { f(); return nil }}
}

// ReadWrite builds a handler with both directions.
func ReadWrite(name string, r func() string, w func(string) error) Handler {
	return Handler{Name: name, Read: func(string) (string, error) { return r(), nil }, Write: w}
}

// HandlerError is returned by handler calls that fail.
type HandlerError struct {
	Handler string
	Err     error
}

func (e *HandlerError) Error() string { return fmt.Sprintf("%s: %v", e.Handler, e.Err) }
func (e *HandlerError) Unwrap() error { return e.Err }
