package packet

import (
	"bytes"
	"sync"
	"testing"
)

func TestNewHasHeadroomAndResetAnnotations(t *testing.T) {
	pl := NewPool(&Depot{})
	p := pl.NewFrom([]byte{1, 2, 3})
	if p.Len() != 3 || p.Headroom() != Headroom || !bytes.Equal(p.Data(), []byte{1, 2, 3}) {
		t.Fatalf("len %d headroom %d data %v", p.Len(), p.Headroom(), p.Data())
	}
	p.Anno.Paint = 7
	p.SetNetworkAt(0)
	pl.Free(p)
	q := pl.New(10)
	if q.Anno.Paint != 0 || q.Anno.Net != -1 || q.Network() != nil {
		t.Errorf("recycled packet kept annotations: %+v", q.Anno)
	}
}

func TestPushPullUseHeadroomWithoutCopy(t *testing.T) {
	pl := NewPool(&Depot{})
	p := pl.NewFrom([]byte("ethernet-header|ip-packet"))
	before := &p.Buffer()[0]
	p.Pull(16)
	if string(p.Data()) != "ip-packet" {
		t.Fatalf("after Pull: %q", p.Data())
	}
	if !p.Push(pl, 16) {
		t.Fatal("Push failed with headroom available")
	}
	if string(p.Data()) != "ethernet-header|ip-packet" {
		t.Errorf("Push did not restore stripped bytes: %q", p.Data())
	}
	if &p.Buffer()[0] != before {
		t.Error("Push/Pull moved the buffer (copied)")
	}
	if p.Push(pl, p.Headroom()+1) {
		t.Error("Push beyond the headroom succeeded")
	}
}

func TestCloneIsCopyOnWrite(t *testing.T) {
	pl := NewPool(&Depot{})
	a := pl.NewFrom([]byte("original"))
	a.SetNetworkAt(2)
	b := pl.Clone(a)
	if !a.Shared() || !b.Shared() {
		t.Fatal("clones not marked shared")
	}
	w := b.Writable(pl)
	copy(w, "CHANGED!")
	if string(a.Data()) != "original" {
		t.Errorf("writing a clone changed the original: %q", a.Data())
	}
	if string(b.Data()) != "CHANGED!" || b.NetworkOffset() != 2 {
		t.Errorf("clone after write: %q net %d", b.Data(), b.NetworkOffset())
	}
	if a.Shared() || b.Shared() {
		t.Error("still shared after unshare")
	}
	pl.Free(a)
	pl.Free(b)
}

func TestFreeReturnsBufferOnlyAfterLastReference(t *testing.T) {
	pl := NewPool(&Depot{})
	a := pl.NewFrom([]byte("x"))
	var bt Batch
	pl.CloneN(a, &bt, 5)
	if got := a.buf.refs.Load(); got != 6 {
		t.Fatalf("refs = %d, want 6", got)
	}
	nbufs := len(pl.bufs)
	pl.FreeBatch(&bt)
	if len(pl.bufs) != nbufs {
		t.Error("buffer returned while the original still holds it")
	}
	pl.Free(a)
	if len(pl.bufs) != nbufs+1 {
		t.Error("buffer not returned after the last free")
	}
}

func TestFreeBatchMixedRuns(t *testing.T) {
	pl := NewPool(&Depot{})
	x, y := pl.NewFrom([]byte("x")), pl.NewFrom([]byte("y"))
	var b Batch
	pl.CloneN(x, &b, 3)
	b.Append(pl.Clone(y))
	pl.CloneN(x, &b, 2)
	pl.FreeBatch(&b)
	if x.buf.refs.Load() != 1 || y.buf.refs.Load() != 1 {
		t.Errorf("refs after FreeBatch: x %d y %d, want 1 1", x.buf.refs.Load(), y.buf.refs.Load())
	}
}

func TestOversizedPacket(t *testing.T) {
	pl := NewPool(&Depot{})
	p := pl.NewZero(9000)
	if p.Len() != 9000 || p.Headroom() != Headroom {
		t.Fatalf("len %d headroom %d", p.Len(), p.Headroom())
	}
	c := pl.Copy(p)
	if c.Len() != 9000 {
		t.Errorf("copy len %d", c.Len())
	}
	pl.Free(p)
	pl.Free(c)
}

func TestPoolsTradeThroughDepot(t *testing.T) {
	d := &Depot{}
	src, sink := NewPool(d), NewPool(d)
	// A source that only allocates and a sink that only frees, on two
	// goroutines: the sink's surplus must flow back to the source.
	ch := make(chan *Packet, 1024)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for p := range ch {
			sink.Free(p)
		}
	}()
	for i := 0; i < 20*magazine; i++ {
		ch <- src.New(60)
	}
	close(ch)
	wg.Wait()
	if len(d.pkts) == 0 || len(d.bufs) == 0 {
		t.Error("sink never gave magazines back to the depot")
	}
	if len(sink.pkts) >= 2*magazine || len(sink.bufs) >= 2*magazine {
		t.Errorf("sink hoards %d structs, %d buffers", len(sink.pkts), len(sink.bufs))
	}
}

func TestZeroAllocationsPerPacket(t *testing.T) {
	pl := NewPool(&Depot{})
	tmpl := pl.NewFrom(make([]byte, 64))
	var b Batch
	// Warm the pool so magazines exist.
	pl.CloneN(tmpl, &b, 32)
	pl.FreeBatch(&b)
	allocs := testing.AllocsPerRun(1000, func() {
		pl.CloneN(tmpl, &b, 32)
		for _, p := range b.Packets() {
			p.Writable(pl)[0] = 1 // unshares: a pooled buffer, no allocation
		}
		pl.FreeBatch(&b)
		q := pl.New(64)
		q.Push(pl, 14)
		pl.Free(q)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per batch, want 0", allocs)
	}
}

func TestBatchFilter(t *testing.T) {
	pl := NewPool(&Depot{})
	var b Batch
	for i := 0; i < 10; i++ {
		b.Append(pl.NewFrom([]byte{byte(i)}))
	}
	var dropped []byte
	b.Filter(func(p *Packet) bool { return p.Data()[0]%2 == 0 }, func(p *Packet) {
		dropped = append(dropped, p.Data()[0])
		pl.Free(p)
	})
	var kept []byte
	for _, p := range b.Packets() {
		kept = append(kept, p.Data()[0])
	}
	if !bytes.Equal(kept, []byte{0, 2, 4, 6, 8}) || !bytes.Equal(dropped, []byte{1, 3, 5, 7, 9}) {
		t.Errorf("kept %v dropped %v", kept, dropped)
	}
	for i := b.N; i < 10; i++ {
		if b.P[i] != nil {
			t.Errorf("slot %d still holds a packet after compaction", i)
		}
	}
}

func BenchmarkCloneFreeBatch32(b *testing.B) {
	pl := NewPool(&Depot{})
	tmpl := pl.NewFrom(make([]byte, 64))
	var bt Batch
	for i := 0; i < b.N; i++ {
		pl.CloneN(tmpl, &bt, 32)
		pl.FreeBatch(&bt)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/32, "ns/pkt")
}

func TestNetworkOrData(t *testing.T) {
	pool := NewPool(nil)
	p := pool.NewFrom([]byte{1, 2, 3, 4, 5, 6})
	defer pool.Free(p)
	if got := p.NetworkOrData(); len(got) != 6 || got[0] != 1 {
		t.Fatalf("without a network annotation: %v, want the data", got)
	}
	p.SetNetworkAt(2)
	if got := p.NetworkOrData(); len(got) != 4 || got[0] != 3 {
		t.Fatalf("with the annotation at byte 2: %v", got)
	}
}
