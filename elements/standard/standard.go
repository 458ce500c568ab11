// Package standard holds Click's standard element family: sources and
// sinks, counters, Print, Tee, queues and schedulers, Strip/Unstrip, paint
// and the simple switches. Each element lives in its own file with its
// Class registration and Doc; <name>_test.go beside it holds its tests.
package standard

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
)

// clickDefaultData is the payload Click's sources send when DATA is not
// given (the same 69 bytes as Click's InfiniteSource).
const clickDefaultData = "Random bullshit in a packet, at least 64 bytes long. Well, now it is."

// sizeData applies a LENGTH argument to DATA the way Click does: a negative
// length keeps data as is, a shorter one truncates, a longer one repeats
// data until it fills length (zeros when data is empty).
func sizeData(data string, length int) []byte {
	if length < 0 {
		return []byte(data)
	}
	out := make([]byte, length)
	if data == "" {
		return out
	}
	for i := 0; i < length; i += len(data) {
		copy(out[i:], data)
	}
	return out
}

// maxDataLen bounds DATA/LENGTH so a template always fits one buffer
// after the headroom (bigger ones would take a one-off buffer per source).
const maxDataLen = packet.BufSize - packet.Headroom

func checkDataLen(data []byte) error {
	if len(data) > maxDataLen {
		return fmt.Errorf("DATA: %d bytes is more than the %d a packet buffer holds", len(data), maxDataLen)
	}
	return nil
}

// handlerCall is a parsed "N elem.handler [value]" trigger (COUNT_CALL,
// BYTE_COUNT_CALL): it fires once when a counter reaches N.
type handlerCall struct {
	at      uint64
	handler string
	value   string
	fired   bool
}

func (h *handlerCall) set(s string) error {
	// strings.Fields, not core.SplitWords: the latter panics on an
	// unterminated quote ending in a backslash (reported upstream).
	words := strings.Fields(s)
	if len(words) < 2 {
		return errors.New(`expected "N handler [value]"`)
	}
	n, err := strconv.ParseUint(words[0], 0, 64)
	if err != nil {
		return fmt.Errorf("expected a count, got %q", words[0])
	}
	if !isHandlerName(words[1]) {
		return fmt.Errorf("bad handler name %q", words[1])
	}
	*h = handlerCall{at: n, handler: words[1], value: strings.Join(words[2:], " ")}
	return nil
}

// isHandlerName accepts "elem.handler" text: printable ASCII, no quotes.
func isHandlerName(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c > '~' || c == '"' || c == '\'' {
			return false
		}
	}
	return s != ""
}

// check reports a trigger whose handler does not exist or is not
// writable, as Click's HandlerCall::initialize_write does at
// initialization, instead of failing silently when the trigger fires.
func (h *handlerCall) check(r core.Router, from core.Element) error {
	if h.handler == "" {
		return nil
	}
	return core.CheckWriteHandler(r, from, h.handler)
}

func (h *handlerCall) String() string {
	if h.handler == "" {
		return ""
	}
	return strings.TrimSpace(fmt.Sprintf("%d %s %s", h.at, h.handler, h.value))
}

// crossed reports (once) that a counter moving from before to after has
// reached the trigger.
func (h *handlerCall) crossed(before, after uint64) bool {
	if h.handler == "" || h.fired || after < h.at || before >= h.at {
		return false
	}
	h.fired = true
	return true
}

// fire calls the trigger's write handler and logs a failure.
func (h *handlerCall) fire(e core.Element) {
	r := e.Core().Router()
	if r == nil {
		return
	}
	if err := r.CallWrite(e, h.handler, h.value); err != nil {
		r.Logf(e, "%s: %v", h.handler, err)
	}
}

// Handler building blocks shared by several elements.

func readInt(name string, v *int) core.Handler {
	return core.ReadOnly(name, func() string { return strconv.Itoa(*v) })
}

func rwBool(name string, v *bool) core.Handler {
	return core.ReadWrite(name, func() string { return strconv.FormatBool(*v) },
		func(s string) error {
			b, err := core.ParseBool(strings.TrimSpace(s))
			if err == nil {
				*v = b
			}
			return err
		})
}

// rwInt is a read/write integer handler whose writes must be >= min.
func rwInt(name string, v *int, min int) core.Handler {
	return core.ReadWrite(name, func() string { return strconv.Itoa(*v) },
		func(s string) error {
			n, err := strconv.ParseInt(strings.TrimSpace(s), 0, 64)
			if err != nil || int(n) < min {
				return fmt.Errorf("expected integer >= %d, got %q", min, s)
			}
			*v = int(n)
			return nil
		})
}

func rwInt64(name string, v *int64, min int64) core.Handler {
	return core.ReadWrite(name, func() string { return strconv.FormatInt(*v, 10) },
		func(s string) error {
			n, err := strconv.ParseInt(strings.TrimSpace(s), 0, 64)
			if err != nil || n < min {
				return fmt.Errorf("expected integer >= %d, got %q", min, s)
			}
			*v = n
			return nil
		})
}

func drops(b *core.Base) core.Handler { return core.ReadUint("drops", &b.Drops) }

// formatRate prints a rate with at most three decimals.
func formatRate(v float64) string {
	return strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64)
}

// positive returns an error unless v >= 1.
func positive(name string, v int) error {
	if v < 1 {
		return fmt.Errorf("%s: must be at least 1", name)
	}
	return nil
}

func minInt(a, b int) int {
	if a < b {
		return a
	}
	return b
}

var errInterval = errors.New("INTERVAL: must be positive")

// rwDuration is a read/write handler for a positive period.
func rwDuration(name string, v *time.Duration) core.Handler {
	return core.ReadWrite(name, func() string { return v.String() }, func(s string) error {
		d, err := core.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return err
		}
		if d <= 0 {
			return errInterval
		}
		*v = d
		return nil
	})
}
