package nat

import (
	"math/rand/v2"
	"testing"
)

// TestFlowTableAgainstModel runs random inserts and removals on a small
// table (long probe runs, wrap-around) and checks every key against a
// Go map model after each step, which exercises backward-shift deletion.
func TestFlowTableAgainstModel(t *testing.T) {
	const capacity = 64
	tab := NewFlowTable(capacity)
	rng := rand.New(rand.NewPCG(1, 2))
	type loc struct {
		fi  int32
		dir int
	}
	model := map[FlowKey]loc{}
	var live []int32
	randKey := func() FlowKey {
		return FlowKey{Src: rng.Uint32N(4), Dst: rng.Uint32N(4), Sport: uint16(rng.UintN(8)),
			Dport: uint16(rng.UintN(8)), Proto: 17}
	}
	for step := 0; step < 20000; step++ {
		if len(live) > 0 && (tab.Full() || rng.IntN(3) == 0) {
			i := rng.IntN(len(live))
			fi := live[i]
			f := tab.Flow(fi)
			delete(model, f.Key[0])
			delete(model, f.Key[1])
			tab.Remove(fi)
			live = append(live[:i], live[i+1:]...)
		} else {
			fwd, rep := randKey(), randKey()
			if _, ok := model[fwd]; ok || fwd == rep {
				continue
			}
			if _, ok := model[rep]; ok {
				continue
			}
			fi := tab.Insert(fwd, rep)
			if fi < 0 {
				t.Fatalf("step %d: insert failed with %d live", step, tab.Len())
			}
			model[fwd], model[rep] = loc{fi, DirForward}, loc{fi, DirReply}
			live = append(live, fi)
		}
		if tab.Len() != len(live) {
			t.Fatalf("step %d: Len %d, want %d", step, tab.Len(), len(live))
		}
		if step%97 == 0 {
			for k, want := range model {
				fi, dir := tab.Lookup(k)
				if fi != want.fi || dir != want.dir {
					t.Fatalf("step %d: Lookup(%v) = %d/%d, want %d/%d", step, k, fi, dir, want.fi, want.dir)
				}
			}
			for i := 0; i < 50; i++ {
				k := randKey()
				if _, in := model[k]; !in {
					if fi, _ := tab.Lookup(k); fi >= 0 {
						t.Fatalf("step %d: Lookup(%v) found a removed key", step, k)
					}
				}
			}
		}
	}
}

func TestFlowTableCapacityAndExpire(t *testing.T) {
	tab := NewFlowTable(3)
	for i := 0; i < 3; i++ {
		fi := tab.Insert(FlowKey{Src: uint32(i), Proto: 6}, FlowKey{Dst: uint32(i), Proto: 6})
		if fi < 0 {
			t.Fatalf("insert %d failed", i)
		}
		tab.Flow(fi).Expiry = int64(i+1) * sec
	}
	if !tab.Full() || tab.Insert(FlowKey{Src: 9}, FlowKey{Dst: 9}) != -1 {
		t.Fatal("a full table accepted a flow")
	}
	if n := tab.Expire(2*sec, nil); n != 2 {
		t.Fatalf("Expire removed %d flows, want 2", n)
	}
	if fi, _ := tab.Lookup(FlowKey{Src: 2, Proto: 6}); fi < 0 {
		t.Error("the unexpired flow is gone")
	}
	if fi, _ := tab.Lookup(FlowKey{Dst: 0, Proto: 6}); fi >= 0 {
		t.Error("an expired flow's reply key is still indexed")
	}
}

func TestFlowKeyString(t *testing.T) {
	k := key("10.0.0.1", 1234, "10.0.0.2", 5678, 17)
	if got, want := k.String(), "(10.0.0.1, 1234, 10.0.0.2, 5678)"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	if r := k.Reverse(); r.Src != k.Dst || r.Sport != k.Dport || r.Reverse() != k {
		t.Errorf("Reverse(%v) = %v", k, r)
	}
}
