package standard

import (
	"fmt"
	"strconv"
	"strings"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
)

// InfiniteSource emits clones of one template packet, BURST per task run.
type InfiniteSource struct {
	core.Base
	tmpl      template
	rawData   string
	length    int
	limit     int64 // -1: forever
	burst     int
	active    bool
	stop      bool
	timestamp bool
	endCall   string // "elem.handler [value]", fired when LIMIT is reached
	count     uint64
	finished  bool // LIMIT reached and STOP/END_CALL handled
	stopSent  bool // StopperDone is called at most once per element
	out       *core.Output
	batch     packet.Batch
	fullCheck func() bool
}

func init() {
	core.Register(core.Class{
		Name: "InfiniteSource", Ports: "0/1", Processing: "a/a",
		New: func() core.Element { return new(InfiniteSource) },
		Doc: core.Doc{
			Synopsis: "InfiniteSource([DATA, LIMIT, BURST, ACTIVE, KEYWORDS])",
			Summary:  "generates packets whenever scheduled",
			Description: `Creates packets holding DATA and emits BURST of them each time its
task runs (BURST may exceed the 64-packet batch size: several batches are
pushed). Every packet is a copy-on-write clone of one template packet, so
generating costs no data copy. Stops after LIMIT packets (-1 means never);
with STOP true it then tells the router it is done, so the run ends once
the graph drains.

In pull context the element is not a task: each pull returns up to the
requested number of packets (within LIMIT).

Before emitting, the task asks the non-full check the runtime installed
with SetNonFullCheck (a Queue downstream reporting full): when it answers
false the run emits nothing, so a source feeding a full Queue sleeps
instead of dropping (Click's FullNoteQueue behaviour).`,
			Ports: "no inputs; output 0 (agnostic) carries the generated packets",
			Args: []core.Item{
				{Name: "DATA", Text: "string: packet contents (default: Click's 69-byte text)"},
				{Name: "LIMIT", Text: "integer: total packets to send, -1 = unlimited (default -1)"},
				{Name: "BURST", Text: "integer >= 1: packets per task run (default 1)"},
				{Name: "ACTIVE", Text: "boolean: generate at all (default true)"},
				{Name: "LENGTH", Text: "integer: packet length; DATA is repeated or truncated to fit"},
				{Name: "STOP", Text: "boolean: end the run when LIMIT is reached (default false)"},
				{Name: "END_CALL", Text: "'handler [value]': write handler called when LIMIT is reached"},
				{Name: "TIMESTAMP", Text: "boolean: set the timestamp annotation (default true)"},
			},
			Handlers: []core.Item{
				{Name: "count", Text: "read: packets generated"},
				{Name: "reset", Text: "write: zero the count and restart toward LIMIT"},
				{Name: "active", Text: "read/write: ACTIVE"},
				{Name: "limit", Text: "read/write: LIMIT"},
				{Name: "burst", Text: "read/write: BURST (also burstsize)"},
				{Name: "data", Text: "read/write: DATA"},
				{Name: "length", Text: "read/write: LENGTH (-1 = length of DATA)"},
			},
			Example: "InfiniteSource(LIMIT 1000, BURST 32, STOP true) -> Counter -> Discard",
		},
	})
}

// SetNonFullCheck installs the runtime's "downstream is not full" test.
// RunTask calls it once per run and emits nothing while it returns false.
func (e *InfiniteSource) SetNonFullCheck(f func() bool) { e.fullCheck = f }

func (e *InfiniteSource) Configure(a *core.Args) error {
	e.rawData, e.length, e.limit, e.burst = clickDefaultData, -1, -1, 1
	e.active, e.timestamp = true, true
	err := a.Parse(
		core.Pos("DATA", core.String(&e.rawData)),
		core.Pos("LIMIT", core.Int64(&e.limit)),
		core.Pos("BURST", core.Int(&e.burst)),
		core.Pos("ACTIVE", core.Bool(&e.active)),
		core.Key("LENGTH", core.Int(&e.length)),
		core.Key("STOP", core.Bool(&e.stop)),
		core.Key("END_CALL", core.Word(&e.endCall)),
		core.Key("TIMESTAMP", core.Bool(&e.timestamp)),
	)
	if err != nil {
		return err
	}
	if err := positive("BURST", e.burst); err != nil {
		return err
	}
	if e.limit < -1 {
		e.limit = -1
	}
	data := sizeData(e.rawData, e.length)
	if err := checkDataLen(data); err != nil {
		return err
	}
	e.tmpl.data = data
	if e.stop {
		e.SetStopper()
	}
	return nil
}

// Resolve checks that END_CALL names a write handler.
func (e *InfiniteSource) Resolve(r core.Router) error {
	if e.endCall != "" {
		h, _, _ := strings.Cut(e.endCall, " ")
		if err := core.CheckWriteHandler(r, e, h); err != nil {
			return fmt.Errorf("END_CALL: %w", err)
		}
	}
	return nil
}

func (e *InfiniteSource) Initialize(r core.Router) error {
	e.out = e.Output(0)
	if e.out.Kind != core.Pull {
		e.ScheduleTask()
	}
	return nil
}

// allowance clips want to what LIMIT still permits.
func (e *InfiniteSource) allowance(want int) int {
	if e.limit >= 0 {
		if left := e.limit - int64(e.count); left < int64(want) {
			return int(max(left, 0))
		}
	}
	return want
}

// prototype returns the template with this batch's timestamp: annotations
// are copied into each clone, so one store stamps the whole batch.
func (e *InfiniteSource) prototype(ctx *core.Ctx) *packet.Packet {
	t := e.tmpl.get(ctx.Pool)
	if e.timestamp {
		t.Anno.Timestamp = ctx.Now
	}
	return t
}

// RunTask emits up to BURST packets as full batches.
func (e *InfiniteSource) RunTask(ctx *core.Ctx) bool {
	if !e.active || (e.fullCheck != nil && !e.fullCheck()) {
		return false
	}
	n := e.allowance(e.burst)
	if n == 0 {
		e.finish()
		return false
	}
	t := e.prototype(ctx)
	b := &e.batch
	for left := n; left > 0; {
		left -= ctx.Pool.CloneN(t, b, left)
		e.out.Push(ctx, b)
	}
	e.count += uint64(n)
	e.checkLimit()
	return true
}

// Pull serves pull context: up to max clones within LIMIT.
func (e *InfiniteSource) Pull(ctx *core.Ctx, _ int, b *packet.Batch, max int) {
	if !e.active {
		return
	}
	n := e.allowance(max)
	if n == 0 {
		e.finish()
		return
	}
	n = ctx.Pool.CloneN(e.prototype(ctx), b, n)
	e.count += uint64(n)
	e.checkLimit()
}

func (e *InfiniteSource) checkLimit() {
	if e.limit >= 0 && e.count >= uint64(e.limit) {
		e.finish()
	}
}

// finish runs the end-of-LIMIT actions once: END_CALL, then STOP.
func (e *InfiniteSource) finish() {
	if e.finished {
		return
	}
	e.finished = true
	r := e.Router()
	if r == nil {
		return
	}
	if e.endCall != "" {
		h, v, _ := strings.Cut(e.endCall, " ")
		if err := r.CallWrite(e, h, strings.TrimSpace(v)); err != nil {
			r.Logf(e, "END_CALL %s: %v", h, err)
		}
	}
	if e.stop && !e.stopSent {
		e.stopSent = true
		r.StopperDone(e)
	}
}

func (e *InfiniteSource) Cleanup(ctx *core.Ctx) { e.tmpl.release(ctx.Pool) }

func (e *InfiniteSource) Handlers() []core.Handler {
	burst := rwInt("burst", &e.burst, 1)
	burstsize := burst
	burstsize.Name = "burstsize"
	return []core.Handler{
		core.ReadUint("count", &e.count),
		core.Action("reset", func() { e.count, e.finished = 0, false }),
		rwBool("active", &e.active),
		core.ReadWrite("limit", func() string { return strconv.FormatInt(e.limit, 10) }, e.writeLimit),
		burst, burstsize,
		core.ReadWrite("data", func() string { return e.rawData }, func(s string) error {
			return e.setData(s, e.length)
		}),
		core.ReadWrite("length", func() string { return strconv.Itoa(e.length) }, func(s string) error {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil {
				return err
			}
			return e.setData(e.rawData, n)
		}),
	}
}

func (e *InfiniteSource) writeLimit(s string) error {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 0, 64)
	if err != nil {
		return err
	}
	e.limit = max(n, -1)
	// A raised limit lets the source run again.
	e.finished = e.limit >= 0 && e.count >= uint64(e.limit) && e.finished
	return nil
}

func (e *InfiniteSource) setData(raw string, length int) error {
	d := sizeData(raw, length)
	if err := checkDataLen(d); err != nil {
		return err
	}
	e.rawData, e.length = raw, length
	e.tmpl.setData(d)
	return nil
}

// TakeState continues the count of the InfiniteSource this one replaces
// in a hot reconfiguration, so a reload neither repeats nor skips packets
// toward LIMIT. A source that had already reached its (new) LIMIT stays
// finished: END_CALL is not fired again, and with STOP true it tells the
// new router at once that it is done.
func (e *InfiniteSource) TakeState(old core.Element) {
	o, ok := old.(*InfiniteSource)
	if !ok {
		return
	}
	e.count = o.count
	if o.finished && e.limit >= 0 && e.count >= uint64(e.limit) {
		e.finished = true
		if r := e.Router(); e.stop && r != nil {
			e.stopSent = true
			r.StopperDone(e)
		}
	}
}
