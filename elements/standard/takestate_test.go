package standard

import (
	"testing"

	"flowbox/appliance/core"
)

// Hot reconfiguration hands each element the one it replaces.
func TestTakeStateKeepsCountsAndProgress(t *testing.T) {
	oc, nc := new(Counter), new(Counter)
	oc.count, oc.bytes = 7, 700
	nc.TakeState(oc)
	if nc.count != 7 || nc.bytes != 700 {
		t.Errorf("Counter after TakeState: %d packets %d bytes", nc.count, nc.bytes)
	}
	nc.TakeState(new(Discard)) // another class: ignored
	if nc.count != 7 {
		t.Error("Counter took state from a Discard")
	}

	od, nd := new(Discard), new(Discard)
	od.count = 9
	nd.TakeState(od)
	if nd.count != 9 {
		t.Errorf("Discard count %d", nd.count)
	}

	// A source continues toward LIMIT rather than starting over...
	os, ns := new(InfiniteSource), new(InfiniteSource)
	os.limit, ns.limit = 100, 100
	os.count = 40
	ns.TakeState(os)
	if ns.count != 40 || ns.finished || ns.allowance(1000) != 60 {
		t.Errorf("InfiniteSource: count %d finished %v allowance %d", ns.count, ns.finished, ns.allowance(1000))
	}
	// ...and a finished one stays finished (no END_CALL again).
	os.count, os.finished = 100, true
	ns2 := new(InfiniteSource)
	ns2.limit = 100
	ns2.TakeState(os)
	if !ns2.finished || ns2.allowance(10) != 0 {
		t.Error("a finished InfiniteSource restarted after TakeState")
	}
	// A raised LIMIT lets it run again.
	ns3 := new(InfiniteSource)
	ns3.limit = 150
	ns3.TakeState(os)
	if ns3.finished || ns3.allowance(1000) != 50 {
		t.Errorf("raised LIMIT: finished %v allowance %d", ns3.finished, ns3.allowance(1000))
	}
	var _ core.StateTaker = (*Counter)(nil)
	var _ core.StateTaker = (*InfiniteSource)(nil)
	var _ core.StateTaker = (*Discard)(nil)
	var _ core.StateTaker = (*Queue)(nil)
}
