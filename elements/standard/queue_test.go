package standard

import (
	"runtime"
	"sync"
	"testing"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
	"flowbox/elements/elemtest"
)

func TestQueue(t *testing.T) {
	hasDoc(t, "Queue")
	hasDoc(t, "SimpleQueue")
	tests := []struct {
		name      string
		class     string
		config    string
		nout      int
		push      int
		pull      int
		wantPull  []int
		wantDrops string
		wantOut1  int
	}{
		{"fifo order", "Queue", "", 1, 5, 10, []int{0, 1, 2, 3, 4}, "0", 0},
		{"tail drop freed", "Queue", "3", 1, 5, 10, []int{0, 1, 2}, "2", 0},
		{"tail drop to output 1", "Queue", "CAPACITY 2", 2, 5, 1, []int{0}, "3", 3},
		{"simple queue", "SimpleQueue", "4", 1, 6, 10, []int{0, 1, 2, 3}, "2", 0},
		{"zero capacity", "Queue", "0", 1, 2, 10, []int{}, "2", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := elemtest.New(t, tc.class, tc.config, 1, tc.nout)
			h.Push(0, numbered(tc.push, 10)...)
			got := firstBytes(h.Pull(0, tc.pull))
			if !sameInts(got, tc.wantPull) {
				t.Errorf("pulled %v, want %v", got, tc.wantPull)
			}
			if h.Read("drops") != tc.wantDrops {
				t.Errorf("drops %s, want %s", h.Read("drops"), tc.wantDrops)
			}
			if tc.nout > 1 && len(h.Outs[1].Pkts) != tc.wantOut1 {
				t.Errorf("output 1 got %d, want %d", len(h.Outs[1].Pkts), tc.wantOut1)
			}
		})
	}
	mustFail(t, "Queue", "-1", 1, 1, "CAPACITY")
}

func TestQueueHandlers(t *testing.T) {
	h := elemtest.New(t, "Queue", "4", 1, 1)
	q := h.Elem.(*Queue)
	h.Push(0, numbered(3, 10)...)
	if h.Read("length") != "3" || h.Read("highwater_length") != "3" || h.Read("capacity") != "4" || !q.NonFull() {
		t.Fatalf("length %s highwater %s capacity %s", h.Read("length"), h.Read("highwater_length"), h.Read("capacity"))
	}
	h.Push(0, numbered(3, 10)...)
	if q.NonFull() || h.Read("drops") != "2" {
		t.Errorf("full queue: NonFull %v drops %s", q.NonFull(), h.Read("drops"))
	}
	// Growing past the ring's size keeps order across the reallocation.
	if err := h.Write("capacity", "100"); err != nil {
		t.Fatal(err)
	}
	h.Push(0, numbered(20, 10)[10:]...)
	got := firstBytes(h.Pull(0, 64))
	want := []int{0, 1, 2, 0, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19}
	if !sameInts(got, want) {
		t.Errorf("after growth pulled %v, want %v", got, want)
	}
	// Shrinking drops the oldest excess at the next pull.
	h.Push(0, numbered(10, 10)...)
	if err := h.Write("capacity", "3"); err != nil {
		t.Fatal(err)
	}
	if got := firstBytes(h.Pull(0, 64)); !sameInts(got, []int{7, 8, 9}) {
		t.Errorf("after shrink pulled %v", got)
	}
	if h.Read("drops") != "9" {
		t.Errorf("drops %s after shrink, want 9", h.Read("drops"))
	}
	_ = h.Write("reset_counts", "")
	if h.Read("drops") != "0" || h.Read("highwater_length") != "0" {
		t.Error("reset_counts")
	}
	h.Push(0, numbered(2, 10)...)
	_ = h.Write("reset", "")
	if n := len(h.Pull(0, 64)); n != 0 || h.Read("length") != "0" {
		t.Errorf("reset left %d packets", n)
	}
	if h.Write("capacity", "x") == nil || h.Write("capacity", "-3") == nil {
		t.Error("bad capacity accepted")
	}
}

func TestQueueTakeState(t *testing.T) {
	old := elemtest.New(t, "Queue", "10", 1, 1)
	old.Push(0, numbered(6, 10)...)
	nq := elemtest.New(t, "Queue", "4", 1, 1)
	nq.Elem.(core.StateTaker).TakeState(old.Elem)
	if old.Read("length") != "0" {
		t.Error("old queue kept packets")
	}
	nq.Push(0, numbered(1, 10)...) // frees the 2 that did not fit, then tail-drops this one
	if got := firstBytes(nq.Pull(0, 64)); !sameInts(got, []int{0, 1, 2, 3}) {
		t.Errorf("new queue holds %v", got)
	}
	if nq.Read("drops") != "3" {
		t.Errorf("drops %s, want 3", nq.Read("drops"))
	}
}

// TestQueueCrossThread runs the producer and the consumer on different
// goroutines, each with its own worker context, and checks that every
// packet arrives exactly once and in order (run with -race).
func TestQueueCrossThread(t *testing.T) {
	const total = 100000
	h := elemtest.New(t, "Queue", "100", 1, 1)
	q := h.Elem.(*Queue)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // producer: pushes only what fits, so nothing is dropped
		defer wg.Done()
		ctx := core.NewCtx(1, nil)
		var b packet.Batch
		for seq := 0; seq < total; {
			for !q.NonFull() {
				runtime.Gosched()
			}
			n := min(100-q.Len(), 1+int(ctx.Rand()%64), total-seq)
			for i := 0; i < n; i++ {
				p := ctx.Pool.New(8)
				putSeq(p.Data(), seq)
				seq++
				b.Append(p)
			}
			q.Push(ctx, 0, &b)
			b.N = 0
		}
	}()
	errs := make(chan string, 1)
	go func() { // consumer
		defer wg.Done()
		ctx := core.NewCtx(2, nil)
		var b packet.Batch
		for want := 0; want < total; {
			q.Pull(ctx, 0, &b, 1+int(ctx.Rand()%64))
			for _, p := range b.P[:b.N] {
				if got := getSeq(p.Data()); got != want && len(errs) == 0 {
					errs <- "out of order"
				}
				want++
			}
			if b.N == 0 {
				runtime.Gosched()
			}
			ctx.Pool.FreeBatch(&b)
		}
	}()
	wg.Wait()
	select {
	case e := <-errs:
		t.Fatal(e)
	default:
	}
	if h.Read("drops") != "0" || q.Len() != 0 {
		t.Errorf("drops %s length %d", h.Read("drops"), q.Len())
	}
}

func putSeq(b []byte, v int) {
	for i := 0; i < 8; i++ {
		b[i] = byte(v >> (8 * i))
	}
}

func getSeq(b []byte) int {
	v := 0
	for i := 0; i < 8; i++ {
		v |= int(b[i]) << (8 * i)
	}
	return v
}

func TestQueueZeroAllocs(t *testing.T) {
	h := elemtest.New(t, "Queue", "", 1, 1)
	q := h.Elem.(*Queue)
	var in, out packet.Batch
	allocs := testing.AllocsPerRun(100, func() {
		for i := 0; i < 32; i++ {
			in.Append(h.Ctx.Pool.New(64))
		}
		q.Push(h.Ctx, 0, &in)
		in.N = 0
		q.Pull(h.Ctx, 0, &out, 32)
		h.Ctx.Pool.FreeBatch(&out)
	})
	if allocs != 0 {
		t.Errorf("%.1f allocs per push+pull", allocs)
	}
}

func BenchmarkQueuePushPull(b *testing.B) {
	h := elemtest.New(b, "Queue", "1000", 1, 1)
	q := h.Elem.(*Queue)
	var in, out packet.Batch
	pkts := make([]*packet.Packet, 32)
	for i := range pkts {
		pkts[i] = h.Ctx.Pool.New(64)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		in.N = copy(in.P[:], pkts)
		q.Push(h.Ctx, 0, &in)
		out.N = 0
		q.Pull(h.Ctx, 0, &out, 32)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/32, "ns/pkt")
}
