package standard

import "flowbox/appliance/packet"

// template is a source's packet prototype. It is built once, lazily on the
// worker thread (that is where a Pool is available), and every emitted
// packet is a copy-on-write clone of it, so emitting costs no data copy.
type template struct {
	data []byte
	pkt  *packet.Packet
	// stale is a prototype replaced by a `data` handler write; handlers
	// have no Pool, so it is freed by the next get on the worker thread.
	stale *packet.Packet
}

// get returns the prototype, building it on first use.
func (t *template) get(pool *packet.Pool) *packet.Packet {
	if t.pkt == nil {
		t.build(pool)
	}
	return t.pkt
}

func (t *template) build(pool *packet.Pool) {
	if t.stale != nil {
		pool.Free(t.stale)
		t.stale = nil
	}
	t.pkt = pool.NewFrom(t.data)
}

// setData replaces the payload; the prototype is rebuilt on next use.
func (t *template) setData(d []byte) {
	t.data = d
	if t.pkt != nil {
		// A second write before the worker ran leaves the older one to
		// the garbage collector; pools do not track packets.
		t.stale = t.pkt
		t.pkt = nil
	}
}

// release frees the prototype (Cleanup).
func (t *template) release(pool *packet.Pool) {
	if t.stale != nil {
		pool.Free(t.stale)
		t.stale = nil
	}
	if t.pkt != nil {
		pool.Free(t.pkt)
		t.pkt = nil
	}
}
