package standard

import (
	"errors"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
)

// HashSwitch picks an output from a hash of LENGTH bytes at OFFSET.
type HashSwitch struct {
	core.Base
	offset, length int
}

func init() {
	core.Register(core.Class{
		Name: "HashSwitch", Ports: "1/1-", Processing: "h/h",
		New: func() core.Element { return new(HashSwitch) },
		Doc: core.Doc{
			Synopsis: "HashSwitch(OFFSET, LENGTH)",
			Summary:  "classifies packets by hash of contents",
			Description: `Sends each packet to output hash(data[OFFSET:OFFSET+LENGTH]) mod N, so
packets with equal bytes there (one flow) always take the same output.
The hash is Click's: the byte sum d, folded as (d ^ d>>4) & (N-1) when N
is 2, 4 or 8, else d mod N. Packets too short to hold the bytes are
dropped and counted.`,
			Ports: "input 0 (push); outputs 0..N-1 (push)",
			Args: []core.Item{
				{Name: "OFFSET", Text: "integer >= 0: first byte hashed (required)"},
				{Name: "LENGTH", Text: "integer >= 1: bytes hashed (required)"},
			},
			Handlers: []core.Item{{Name: "drops", Text: "read: packets too short to hash"}},
			Example:  "// spread by IPv4 source address\nhs :: HashSwitch(26, 4); hs[0] -> q0 :: Queue; hs[1] -> q1 :: Queue;",
		},
	})
}

func (s *HashSwitch) Configure(a *core.Args) error {
	err := a.Parse(core.Pos("OFFSET", core.Int(&s.offset)).Required(), core.Pos("LENGTH", core.Int(&s.length)).Required())
	if err != nil {
		return err
	}
	if s.offset < 0 || s.length < 1 || s.offset+s.length > packet.BufSize {
		return errors.New("OFFSET, LENGTH: need OFFSET >= 0, LENGTH >= 1, within a packet buffer")
	}
	return nil
}

func (s *HashSwitch) Push(ctx *core.Ctx, _ int, b *packet.Batch) {
	end := s.offset + s.length
	nout := s.NOutputs()
	for _, p := range b.P[:b.N] {
		d := p.Data()
		if len(d) < end {
			s.Drop(ctx, p)
			continue
		}
		s.Emit(ctx, clickHash(d[s.offset:end], nout), p)
	}
	b.Reset()
	s.Flush(ctx)
}

// clickHash is Click's HashSwitch hash of key into n outputs.
func clickHash(key []byte, n int) int {
	d := 0
	for _, c := range key {
		d += int(c)
	}
	if n == 2 || n == 4 || n == 8 {
		return (d ^ d>>4) & (n - 1)
	}
	return d % n
}

func (s *HashSwitch) Handlers() []core.Handler { return []core.Handler{drops(&s.Base)} }
