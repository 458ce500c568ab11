package standard

import (
	"errors"
	"strconv"
	"strings"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
)

// RandomSample passes each packet on with probability P.
type RandomSample struct {
	core.Base
	prob      float64
	threshold uint64 // a 53-bit random value below it samples the packet
	active    bool
	rejectOut *core.Output // output 1 if present
}

// probScale is 2^53: probabilities become 53-bit integer thresholds so the
// per-packet test is one shift and one compare.
const probScale = 1 << 53

func init() {
	core.Register(core.Class{
		Name: "RandomSample", Ports: "1/1-2", Processing: "a/ah",
		New: func() core.Element { return new(RandomSample) },
		Doc: core.Doc{
			Synopsis: "RandomSample([P, KEYWORDS])",
			Summary:  "samples packets with some probability",
			Description: `Sends each packet to output 0 with probability P (the sampling
probability). The others go to output 1 if it exists, otherwise they are
dropped and counted. DROP Q is the same as SAMPLE 1-Q. Uses the worker's
fast random generator (ctx.Rand). With ACTIVE false every packet passes.`,
			Ports: "input 0 -> output 0 (agnostic) the sample; optional output 1 (push) the rest",
			Args: []core.Item{
				{Name: "P", Text: "real 0-1: sampling probability (also SAMPLE)"},
				{Name: "SAMPLE", Text: "real 0-1: same as P"},
				{Name: "DROP", Text: "real 0-1: drop probability, 1 - P"},
				{Name: "ACTIVE", Text: "boolean: sample at all (default true)"},
			},
			Handlers: []core.Item{
				{Name: "sampling_prob", Text: "read/write: P"},
				{Name: "drop_prob", Text: "read/write: 1 - P"},
				{Name: "active", Text: "read/write: ACTIVE"},
				{Name: "drops", Text: "read: packets dropped (no output 1)"},
			},
			Example: "src -> RandomSample(0.01) -> Print(sampled) -> Discard",
		},
	})
}

func (s *RandomSample) Configure(a *core.Args) error {
	sample, drop := -1.0, -1.0
	s.active = true
	err := a.Parse(
		core.Pos("P", core.Float(&sample)),
		core.Key("SAMPLE", core.Float(&sample)),
		core.Key("DROP", core.Float(&drop)),
		core.Key("ACTIVE", core.Bool(&s.active)),
	)
	if err != nil {
		return err
	}
	switch {
	case sample >= 0 && drop >= 0:
		return errors.New("give either P/SAMPLE or DROP, not both")
	case drop >= 0:
		return s.setProb(1 - drop)
	case sample >= 0:
		return s.setProb(sample)
	}
	return errors.New("P: required argument missing (or SAMPLE/DROP)")
}

func (s *RandomSample) setProb(p float64) error {
	if err := core.Clamp("P", p, 0, 1); err != nil {
		return err
	}
	s.prob, s.threshold = p, uint64(p*probScale)
	return nil
}

func (s *RandomSample) Initialize(core.Router) error {
	if s.NOutputs() > 1 {
		s.rejectOut = s.Output(1)
	}
	return nil
}

// Process keeps the sampled packets in b and diverts or drops the rest.
func (s *RandomSample) Process(ctx *core.Ctx, b *packet.Batch) {
	if !s.active {
		return
	}
	kept := 0
	for _, p := range b.P[:b.N] {
		if ctx.Rand()>>11 < s.threshold {
			b.P[kept] = p
			kept++
		} else if s.rejectOut != nil {
			s.Emit(ctx, 1, p)
		} else {
			s.Drop(ctx, p)
		}
	}
	clear(b.P[kept:b.N])
	b.N = kept
	if s.rejectOut != nil {
		s.rejectOut.Push(ctx, s.Scratch(1)) // not Flush: the pull adapter owns scratch 0
	}
}

func (s *RandomSample) Handlers() []core.Handler {
	prob := func(name string, toP func(float64) float64) core.Handler {
		return core.ReadWrite(name, func() string { return strconv.FormatFloat(toP(s.prob), 'g', -1, 64) },
			func(v string) error {
				f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err != nil {
					return err
				}
				return s.setProb(toP(f))
			})
	}
	same := func(p float64) float64 { return p }
	inverse := func(p float64) float64 { return 1 - p }
	return []core.Handler{
		prob("sampling_prob", same),
		prob("drop_prob", inverse),
		rwBool("active", &s.active),
		drops(&s.Base),
	}
}
