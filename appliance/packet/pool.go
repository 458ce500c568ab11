package packet

import "sync"

// Pool hands out packets and buffers. A Pool belongs to one worker thread
// and is not safe for concurrent use; pools exchange fixed-size magazines
// with a shared Depot so that a worker that only frees (a sink) feeds a
// worker that only allocates (a source) without per-packet locking.
type Pool struct {
	pkts  []*Packet
	bufs  []*buffer
	depot *Depot
}

// magazine is the unit pools trade with the depot.
const magazine = 256

// Depot is the shared backing store of several pools.
type Depot struct {
	mu   sync.Mutex
	pkts [][]*Packet
	bufs [][]*buffer
}

// DefaultDepot backs pools created with NewPool(nil).
var DefaultDepot = &Depot{}

// NewPool returns an empty pool backed by depot (DefaultDepot if nil).
func NewPool(depot *Depot) *Pool {
	if depot == nil {
		depot = DefaultDepot
	}
	return &Pool{
		pkts:  make([]*Packet, 0, 2*magazine),
		bufs:  make([]*buffer, 0, 2*magazine),
		depot: depot,
	}
}

func (d *Depot) takePkts() []*Packet {
	d.mu.Lock()
	defer d.mu.Unlock()
	if n := len(d.pkts); n > 0 {
		m := d.pkts[n-1]
		d.pkts = d.pkts[:n-1]
		return m
	}
	return nil
}

func (d *Depot) takeBufs() []*buffer {
	d.mu.Lock()
	defer d.mu.Unlock()
	if n := len(d.bufs); n > 0 {
		m := d.bufs[n-1]
		d.bufs = d.bufs[:n-1]
		return m
	}
	return nil
}

func (d *Depot) givePkts(m []*Packet) {
	d.mu.Lock()
	d.pkts = append(d.pkts, m)
	d.mu.Unlock()
}

func (d *Depot) giveBufs(m []*buffer) {
	d.mu.Lock()
	d.bufs = append(d.bufs, m)
	d.mu.Unlock()
}

func (pl *Pool) getPacketStruct() *Packet {
	n := len(pl.pkts)
	if n == 0 {
		pl.refillPkts()
		n = len(pl.pkts)
	}
	p := pl.pkts[n-1]
	pl.pkts = pl.pkts[:n-1]
	return p
}

func (pl *Pool) refillPkts() {
	if m := pl.depot.takePkts(); m != nil {
		pl.pkts = append(pl.pkts, m...)
		return
	}
	chunk := make([]Packet, magazine)
	for i := range chunk {
		pl.pkts = append(pl.pkts, &chunk[i])
	}
}

func (pl *Pool) getBuffer() *buffer {
	n := len(pl.bufs)
	if n == 0 {
		pl.refillBufs()
		n = len(pl.bufs)
	}
	b := pl.bufs[n-1]
	pl.bufs = pl.bufs[:n-1]
	// Nobody else can see a free buffer, and one freed by its sole owner
	// still says 1: skip the store (a locked instruction on amd64) then.
	if b.refs.Load() != 1 {
		b.refs.Store(1)
	}
	return b
}

func (pl *Pool) refillBufs() {
	if m := pl.depot.takeBufs(); m != nil {
		pl.bufs = append(pl.bufs, m...)
		return
	}
	mem := make([]byte, magazine*BufSize)
	hdrs := make([]buffer, magazine)
	for i := range hdrs {
		hdrs[i].b = mem[i*BufSize : (i+1)*BufSize : (i+1)*BufSize]
		pl.bufs = append(pl.bufs, &hdrs[i])
	}
}

func (pl *Pool) putPacketStruct(p *Packet) {
	pl.pkts = append(pl.pkts, p)
	if len(pl.pkts) >= 2*magazine {
		pl.spillPkts()
	}
}

func (pl *Pool) putBuffer(b *buffer) {
	if len(b.b) != BufSize {
		return // an oversized one-off buffer: let the GC have it
	}
	pl.bufs = append(pl.bufs, b)
	if len(pl.bufs) >= 2*magazine {
		m := make([]*buffer, magazine)
		copy(m, pl.bufs[magazine:])
		pl.bufs = pl.bufs[:magazine]
		pl.depot.giveBufs(m)
	}
}

// New returns a packet of length n with Headroom bytes in front. The data
// is not zeroed (it holds whatever the recycled buffer held); use NewZero
// or copy over it. Sizes beyond one pooled buffer get a one-off buffer.
func (pl *Pool) New(n int) *Packet {
	p := pl.getPacketStruct()
	if Headroom+n > BufSize {
		b := &buffer{b: make([]byte, Headroom+n+64)}
		b.refs.Store(1)
		p.buf = b
	} else {
		p.buf = pl.getBuffer()
	}
	p.head = Headroom
	p.tail = Headroom + int32(n)
	p.Anno.reset()
	return p
}

// NewZero is New with the data zeroed.
func (pl *Pool) NewZero(n int) *Packet {
	p := pl.New(n)
	clear(p.Data())
	return p
}

// NewFrom returns a packet holding a copy of data.
func (pl *Pool) NewFrom(data []byte) *Packet {
	p := pl.New(len(data))
	copy(p.Data(), data)
	return p
}

// Clone returns a packet sharing p's data (copy-on-write: the first writer
// through Writable/Push/Put gets a private copy). Annotations are copied.
func (pl *Pool) Clone(p *Packet) *Packet {
	c := pl.getPacketStruct()
	p.buf.refs.Add(1)
	c.buf = p.buf
	c.head, c.tail = p.head, p.tail
	c.Anno = p.Anno
	return c
}

// Copy returns a private deep copy of p (data and annotations).
func (pl *Pool) Copy(p *Packet) *Packet {
	c := pl.getPacketStruct()
	if len(p.buf.b) != BufSize {
		b := &buffer{b: make([]byte, len(p.buf.b))}
		b.refs.Store(1)
		c.buf = b
	} else {
		c.buf = pl.getBuffer()
	}
	copy(c.buf.b, p.buf.b)
	c.head, c.tail = p.head, p.tail
	c.Anno = p.Anno
	return c
}

// Free returns p to the pool. The buffer goes back when its last user
// frees it.
func (pl *Pool) Free(p *Packet) {
	b := p.buf
	// Sole owner: nobody else can take a reference, so no atomic is needed.
	if b.refs.Load() == 1 || b.refs.Add(-1) == 0 {
		pl.putBuffer(b)
	}
	pl.putPacketStruct(p)
}

// FreeBatch frees every packet in b and empties it. Runs of packets that
// share one buffer (clones from a source) release it with one atomic add,
// and packet structs go back to the free list in bulk.
func (pl *Pool) FreeBatch(b *Batch) {
	n := b.N
	for i := 0; i < n; {
		buf := b.P[i].buf
		j := i + 1
		for j < n && b.P[j].buf == buf {
			j++
		}
		run := int32(j - i)
		if buf.refs.Load() == run || buf.refs.Add(-run) == 0 {
			pl.putBuffer(buf)
		}
		i = j
	}
	pl.pkts = append(pl.pkts, b.P[:n]...)
	if len(pl.pkts) >= 2*magazine {
		pl.spillPkts()
	}
	b.N = 0
}

// spillPkts hands one magazine of packet structs to the depot.
func (pl *Pool) spillPkts() {
	m := make([]*Packet, magazine)
	k := len(pl.pkts) - magazine
	copy(m, pl.pkts[k:])
	pl.pkts = pl.pkts[:k]
	pl.depot.givePkts(m)
}

// CloneN appends n clones of tmpl to b, taking n references on its buffer
// with one atomic add and n packet structs from the free list in bulk. It
// returns the number appended (limited by space).
func (pl *Pool) CloneN(tmpl *Packet, b *Batch, n int) int {
	if room := MaxBatch - b.N; n > room {
		n = room
	}
	for len(pl.pkts) < n {
		pl.refillPkts()
	}
	tmpl.buf.refs.Add(int32(n))
	k := len(pl.pkts) - n
	dst := b.P[b.N : b.N+n]
	copy(dst, pl.pkts[k:])
	pl.pkts = pl.pkts[:k]
	buf, head, tail := tmpl.buf, tmpl.head, tmpl.tail
	for _, c := range dst {
		c.buf = buf
		c.head, c.tail = head, tail
		c.Anno = tmpl.Anno
	}
	b.N += n
	return n
}
