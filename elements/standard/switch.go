package standard

import (
	"fmt"
	"strconv"
	"strings"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
)

// Switch sends all packets to one output, chosen by a handler.
type Switch struct {
	core.Base
	output int // -1: drop
}

func init() {
	core.Register(core.Class{
		Name: "Switch", Ports: "1/1-", Processing: "h/h",
		New: func() core.Element { return new(Switch) },
		Doc: core.Doc{
			Synopsis: "Switch([OUTPUT])",
			Summary:  "sends packet stream to settable output",
			Description: `Sends every packet out of output OUTPUT, a whole batch at a time. The
switch handler changes the output at run time; a negative value, or one
with no such output, drops the packets (counted).`,
			Ports: "input 0 (push); outputs 0..N-1 (push)",
			Args:  []core.Item{{Name: "OUTPUT", Text: "integer: output to use, negative = drop (default 0)"}},
			Handlers: []core.Item{
				{Name: "switch", Text: "read/write: the output in use (-1 = dropping)"},
				{Name: "drops", Text: "read: packets dropped"},
			},
			Example: `sw :: Switch(0); sw[0] -> ToDevice(eth0); sw[1] -> Discard;
// write sw.switch 1 to divert traffic`,
		},
	})
}

func (s *Switch) Configure(a *core.Args) error {
	out := 0
	if err := a.Parse(core.Pos("OUTPUT", core.Int(&out))); err != nil {
		return err
	}
	s.setOutput(out)
	return nil
}

// setOutput stores o, mapping outputs that do not exist to "drop" as
// Click does.
func (s *Switch) setOutput(o int) {
	if o < 0 || o >= s.NOutputs() {
		o = -1
	}
	s.output = o
}

func (s *Switch) Push(ctx *core.Ctx, _ int, b *packet.Batch) {
	if s.output < 0 {
		s.Drops += uint64(b.N)
		ctx.Pool.FreeBatch(b)
		return
	}
	s.Output(s.output).Push(ctx, b)
}

func (s *Switch) Handlers() []core.Handler {
	return []core.Handler{
		core.ReadWrite("switch", func() string { return strconv.Itoa(s.output) }, func(v string) error {
			o, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("switch: expected integer, got %q", v)
			}
			s.setOutput(o)
			return nil
		}),
		drops(&s.Base),
	}
}
