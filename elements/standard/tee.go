package standard

import (
	"fmt"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
)

// Tee sends every packet to all of its outputs.
type Tee struct{ core.Base }

func init() {
	core.Register(core.Class{
		Name: "Tee", Ports: "1/1-", Processing: "h/h",
		New: func() core.Element { return new(Tee) },
		Doc: core.Doc{
			Synopsis: "Tee([N])",
			Summary:  "duplicates packets",
			Description: `Sends each pushed packet to every output: the original goes to output 0,
copy-on-write clones (shared data, private annotations) to outputs 1..N-1.
A downstream element that writes a clone gets a private copy first, so the
other outputs never see the change. All clones are made before anything
is pushed, then the outputs are pushed in port order.`,
			Ports: "input 0 (push); outputs 0..N-1 (push), one copy each",
			Args:  []core.Item{{Name: "N", Text: "integer: number of outputs; must match the connections if given"}},
			Example: `src -> t :: Tee(2);
t[0] -> ToDevice(eth0);
t[1] -> Print(copy) -> Discard;`,
		},
	})
}

func (t *Tee) Configure(a *core.Args) error {
	n := -1
	if err := a.Parse(core.Pos("N", core.Int(&n))); err != nil {
		return err
	}
	if n >= 0 && n != t.NOutputs() {
		return fmt.Errorf("N: %d given but %d outputs connected", n, t.NOutputs())
	}
	return nil
}

func (t *Tee) Push(ctx *core.Ctx, _ int, b *packet.Batch) {
	nout := t.NOutputs()
	for i := 1; i < nout; i++ {
		cloneInto(ctx.Pool, t.Scratch(i), b)
	}
	t.Output(0).Push(ctx, b)
	for i := 1; i < nout; i++ {
		t.Output(i).Push(ctx, t.Scratch(i))
	}
}

// cloneInto appends a clone of every packet of src to the empty batch dst.
func cloneInto(pool *packet.Pool, dst, src *packet.Batch) {
	for i, p := range src.P[:src.N] {
		dst.P[i] = pool.Clone(p)
	}
	dst.N = src.N
}
