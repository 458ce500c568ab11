// Package packet is flowbox's packet model: pooled buffers with headroom,
// annotations, cheap copy-on-write clones, and batches, the unit that moves
// between elements.
//
// Ownership rule (as in Snabb and Click): whoever holds a *Packet owns it and
// must either pass it on or free it through a Pool; never touch it afterwards.
package packet

import (
	"sync/atomic"
)

const (
	// Headroom is the space kept in front of fresh packet data so that
	// prepending headers (EtherEncap, IPEncap, Unstrip) never copies.
	Headroom = 128
	// BufSize is the size of one pooled buffer, headroom included. It fits
	// a 1500-byte frame plus the headroom, with tailroom to spare.
	BufSize = 2048
	// UserSlots is the number of free 64-bit annotation slots.
	UserSlots = 4
)

// Anno is the annotation area carried with each packet. Header offsets are
// absolute positions in the underlying buffer (not relative to Data), so
// they stay valid when Strip/Unstrip move the data pointer. -1 means unset.
type Anno struct {
	Timestamp int64 // Unix nanoseconds, 0 if unset
	FlowHash  uint32
	DstIP     [4]byte // destination-IP annotation (next hop)
	Paint     uint8
	Mac       int32 // offset of the Ethernet header, -1 unset
	Net       int32 // offset of the network (IP) header, -1 unset
	Trans     int32 // offset of the transport header, -1 unset
	InPort    uint16
	User      [UserSlots]uint64
}

// buffer is the shared storage behind one or more packets.
type buffer struct {
	b    []byte
	refs atomic.Int32
}

// Packet is a view onto a buffer: data is buf.b[head:tail].
type Packet struct {
	buf  *buffer
	head int32
	tail int32
	Anno Anno
}

func (a *Anno) reset() {
	*a = Anno{Mac: -1, Net: -1, Trans: -1}
}

// Data returns the packet's bytes. Callers that write must first make sure
// the packet is not shared: use Writable.
func (p *Packet) Data() []byte { return p.buf.b[p.head:p.tail] }

// Len is the data length in bytes.
func (p *Packet) Len() int { return int(p.tail - p.head) }

// Headroom is the number of bytes available in front of the data.
func (p *Packet) Headroom() int { return int(p.head) }

// Tailroom is the number of bytes available after the data.
func (p *Packet) Tailroom() int { return len(p.buf.b) - int(p.tail) }

// Offset is the absolute buffer position of data byte 0; header annotations
// are expressed in the same coordinates.
func (p *Packet) Offset() int { return int(p.head) }

// Shared reports whether the data buffer is shared with a clone.
func (p *Packet) Shared() bool { return p.buf.refs.Load() > 1 }

// Buffer exposes the whole underlying buffer (headroom included); header
// annotation offsets index into it.
func (p *Packet) Buffer() []byte { return p.buf.b }

// Pull removes n bytes from the front (Click's pull / Strip). It never
// copies. n larger than the length empties the packet.
func (p *Packet) Pull(n int) {
	if n > p.Len() {
		n = p.Len()
	}
	p.head += int32(n)
}

// Push prepends n bytes (Click's push / Unstrip) and returns false when the
// headroom is too small. The new bytes keep whatever the buffer held, so
// Unstrip restores stripped headers. A shared packet is first made private.
func (p *Packet) Push(pool *Pool, n int) bool {
	if n > int(p.head) {
		return false
	}
	if p.Shared() {
		p.unshare(pool)
	}
	p.head -= int32(n)
	return true
}

// Take removes n bytes from the end.
func (p *Packet) Take(n int) {
	if n > p.Len() {
		n = p.Len()
	}
	p.tail -= int32(n)
}

// Put appends n bytes at the end and returns false without room.
func (p *Packet) Put(pool *Pool, n int) bool {
	if n > p.Tailroom() {
		return false
	}
	if p.Shared() {
		p.unshare(pool)
	}
	p.tail += int32(n)
	return true
}

// SetLen truncates or extends the data to n bytes (within the buffer).
func (p *Packet) SetLen(pool *Pool, n int) bool {
	if n < 0 {
		return false
	}
	if n <= p.Len() {
		p.tail = p.head + int32(n)
		return true
	}
	return p.Put(pool, n-p.Len())
}

// Writable makes sure the data may be modified (copying it if a clone shares
// it) and returns the data slice. The common, unshared case is one load and
// a branch.
func (p *Packet) Writable(pool *Pool) []byte {
	if p.buf.refs.Load() > 1 {
		p.unshare(pool)
	}
	return p.buf.b[p.head:p.tail]
}

// unshare gives p a private copy of its buffer up to the end of its data
// (headroom included, so header annotations and Unstrip stay valid) and
// drops its reference to the shared one. The tailroom is not copied: like
// fresh tailroom its contents are unspecified, and skipping it keeps the
// copy of a small packet to a few cache lines instead of the whole buffer.
func (p *Packet) unshare(pool *Pool) {
	nb := pool.getBuffer()
	copy(nb.b, p.buf.b[:p.tail])
	old := p.buf
	p.buf = nb
	if old.refs.Add(-1) == 0 {
		pool.putBuffer(old)
	}
}

// Network returns the IP header annotation as a slice starting at the
// header (through the end of data), or nil when unset or out of range.
func (p *Packet) Network() []byte {
	off := int32(p.Anno.Net)
	if off < 0 || off < p.head || off >= p.tail {
		return nil
	}
	return p.buf.b[off:p.tail]
}

// NetworkOrData returns the network header annotation slice or, when the
// annotation is unset, the whole data (elements that take IP packets with
// or without an Ethernet header in front).
func (p *Packet) NetworkOrData() []byte {
	if p.Anno.Net >= 0 {
		return p.Network()
	}
	return p.Data()
}

// Transport returns the transport header annotation slice, or nil.
func (p *Packet) Transport() []byte {
	off := int32(p.Anno.Trans)
	if off < 0 || off < p.head || off >= p.tail {
		return nil
	}
	return p.buf.b[off:p.tail]
}

// MacHeader returns the Ethernet header annotation slice, or nil.
func (p *Packet) MacHeader() []byte {
	off := int32(p.Anno.Mac)
	if off < 0 || off < p.head || off >= p.tail {
		return nil
	}
	return p.buf.b[off:p.tail]
}

// SetNetworkAt marks the IP header at data offset off (relative to Data).
func (p *Packet) SetNetworkAt(off int) { p.Anno.Net = int32(int(p.head) + off) }

// SetTransportAt marks the transport header at data offset off.
func (p *Packet) SetTransportAt(off int) { p.Anno.Trans = int32(int(p.head) + off) }

// SetMacAt marks the Ethernet header at data offset off.
func (p *Packet) SetMacAt(off int) { p.Anno.Mac = int32(int(p.head) + off) }

// NetworkOffset is the IP header position relative to Data, or -1.
func (p *Packet) NetworkOffset() int {
	if p.Anno.Net < 0 {
		return -1
	}
	return int(p.Anno.Net) - int(p.head)
}

// TransportOffset is the transport header position relative to Data, or -1.
func (p *Packet) TransportOffset() int {
	if p.Anno.Trans < 0 {
		return -1
	}
	return int(p.Anno.Trans) - int(p.head)
}
