package core

import "flowbox/appliance/packet"

// AsPusher returns what a push output connected to e's input port should
// call: e itself if it is a Pusher, or an adapter for a Processor that
// processes the batch and pushes it on output 0. Nil if e takes no pushes.
func AsPusher(e Element) Pusher {
	if p, ok := e.(Pusher); ok {
		return p
	}
	if pr, ok := e.(Processor); ok {
		b := e.Core()
		return &processorPush{p: pr, out: b.Output(0), base: b, multi: b.NOutputs() > 1}
	}
	return nil
}

// AsPuller returns what a pull input connected to e's output port should
// call: e itself if it is a Puller, or an adapter for a Processor that
// pulls from input 0 and processes what it got. Nil if e serves no pulls.
func AsPuller(e Element) Puller {
	if p, ok := e.(Puller); ok {
		return p
	}
	if pr, ok := e.(Processor); ok {
		b := e.Core()
		return &processorPull{p: pr, in: b.Input(0), tmp: b.Scratch(0), base: b, multi: b.NOutputs() > 1}
	}
	return nil
}

type processorPush struct {
	p     Processor
	out   *Output
	base  *Base
	multi bool // has outputs besides 0 (rejects to flush)
}

func (a *processorPush) Push(ctx *Ctx, _ int, b *packet.Batch) {
	a.p.Process(ctx, b)
	a.out.Push(ctx, b)
	if a.multi {
		a.base.Flush(ctx)
	}
}

type processorPull struct {
	p     Processor
	in    *Input
	tmp   *packet.Batch
	base  *Base
	multi bool
}

func (a *processorPull) Pull(ctx *Ctx, _ int, b *packet.Batch, max int) {
	t := a.tmp
	t.N = 0
	if a.in.Pull(ctx, t, max) == 0 {
		return
	}
	a.p.Process(ctx, t)
	for i := 0; i < t.N && b.N < packet.MaxBatch; i++ {
		b.P[b.N] = t.P[i]
		b.N++
	}
	t.N = 0
	if a.multi {
		a.base.Flush(ctx) // rejects are pushed; scratch 0 is t, now empty
	}
}
