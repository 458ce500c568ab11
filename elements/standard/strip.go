package standard

import (
	"errors"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
)

// Strip removes LEN bytes from the front of every packet.
type Strip struct {
	core.Base
	n int
}

func init() {
	core.Register(core.Class{
		Name: "Strip", Ports: "1/1", Processing: "a/a",
		New: func() core.Element { return new(Strip) },
		Doc: core.Doc{
			Synopsis: "Strip(LEN)",
			Summary:  "strips bytes from front of packets",
			Description: `Moves each packet's data start forward by LEN bytes; nothing is copied
and the bytes stay in the headroom, so Unstrip(LEN) can restore them.
Header annotations are absolute buffer positions and stay valid. A packet
shorter than LEN becomes empty (as in Click).`,
			Ports:   "input 0 -> output 0, agnostic",
			Args:    []core.Item{{Name: "LEN", Text: "integer >= 0: bytes to strip (required)"}},
			Example: "FromDevice(eth0) -> Strip(14) -> CheckIPHeader -> ...",
		},
	})
}

func (s *Strip) Configure(a *core.Args) error {
	if err := a.Parse(core.Pos("LEN", core.Int(&s.n)).Required()); err != nil {
		return err
	}
	return checkLen(s.n)
}

func checkLen(n int) error {
	if n < 0 || n > packet.BufSize {
		return errors.New("LEN: must be between 0 and the buffer size")
	}
	return nil
}

func (s *Strip) Process(_ *core.Ctx, b *packet.Batch) {
	for _, p := range b.P[:b.N] {
		p.Pull(s.n)
	}
}

func (s *Strip) Handlers() []core.Handler { return []core.Handler{readInt("length", &s.n)} }
