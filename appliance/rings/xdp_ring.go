//go:build linux

package rings

import (
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// AF_XDP single-producer/single-consumer rings, modelled on libxdp's xsk.h
// and gVisor's pkg/xdp rather than asavie/xdp v0.3.3, which updates the
// shared producer/consumer words with plain loads and stores (asavie #34)
// and does not use XDP_USE_NEED_WAKEUP (asavie #35).
//
// Memory ordering: the kernel side uses smp_load_acquire/smp_store_release
// on these words. Go's sync/atomic loads and stores are sequentially
// consistent, which is at least acquire (for loads) and release (for
// stores), so descriptor writes are visible before the producer store that
// publishes them, and descriptor reads happen after the producer load.
//
// Each side keeps a cached copy of the other side's index and only touches
// the shared cache line when the cache says it ran out, so a batch costs one
// atomic load and one atomic store at most.

// xdpRing is the part common to all four rings.
type xdpRing struct {
	producer *uint32
	consumer *uint32
	flags    *uint32
	mask     uint32
	size     uint32
	// For a ring we produce to (fill, tx): cachedProd is our producer
	// index, cachedCons the consumer index plus size (libxdp's trick, so
	// that free = cachedCons - cachedProd).
	// For a ring we consume from (rx, completion): cachedCons is our
	// consumer index, cachedProd the last producer index seen.
	cachedProd uint32
	cachedCons uint32
	mem        []byte // the mmap'd region (for munmap)
}

// needWakeup reports whether the kernel asked to be kicked (only
// meaningful when bound with XDP_USE_NEED_WAKEUP).
func (r *xdpRing) needWakeup() bool {
	return atomic.LoadUint32(r.flags)&unix.XDP_RING_NEED_WAKEUP != 0
}

// --- producer side (fill and tx rings) ---

// free returns how many slots can be reserved, looking at the shared
// consumer index only when fewer than want are known to be free.
func (r *xdpRing) free(want uint32) uint32 {
	n := r.cachedCons - r.cachedProd
	if n >= want {
		return n
	}
	r.cachedCons = atomic.LoadUint32(r.consumer) + r.size
	return r.cachedCons - r.cachedProd
}

// submit publishes everything reserved so far (store-release).
func (r *xdpRing) submit() {
	atomic.StoreUint32(r.producer, r.cachedProd)
}

// pending is the number of descriptors we produced that the kernel has not
// consumed yet (tx ring: not yet picked up by a kick).
func (r *xdpRing) pending() uint32 {
	return r.cachedProd - atomic.LoadUint32(r.consumer)
}

// --- consumer side (rx and completion rings) ---

// avail returns how many entries can be consumed, loading the shared
// producer index only when the cache is exhausted.
func (r *xdpRing) avail(want uint32) uint32 {
	n := r.cachedProd - r.cachedCons
	if n >= want {
		return n
	}
	r.cachedProd = atomic.LoadUint32(r.producer)
	return r.cachedProd - r.cachedCons
}

// release hands consumed entries back to the kernel (store-release).
func (r *xdpRing) release() {
	atomic.StoreUint32(r.consumer, r.cachedCons)
}

// xdpAddrRing is a fill or completion ring: entries are UMEM addresses.
type xdpAddrRing struct {
	xdpRing
	descs []uint64
}

// xdpDescRing is an rx or tx ring: entries are (addr, len, options).
type xdpDescRing struct {
	xdpRing
	descs []unix.XDPDesc
}

// mapRing mmaps one ring of an AF_XDP socket and fills in the pointers.
func xdpMapRing(fd int, pgoff int64, off unix.XDPRingOffset, entries uint32, entSize uintptr, r *xdpRing) (unsafe.Pointer, error) {
	length := int(off.Desc) + int(entries)*int(entSize)
	mem, err := unix.Mmap(fd, pgoff, length, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return nil, err
	}
	base := unsafe.Pointer(&mem[0])
	r.mem = mem
	r.producer = (*uint32)(unsafe.Add(base, off.Producer))
	r.consumer = (*uint32)(unsafe.Add(base, off.Consumer))
	r.flags = (*uint32)(unsafe.Add(base, off.Flags))
	r.size = entries
	r.mask = entries - 1
	return unsafe.Add(base, off.Desc), nil
}

func xdpMapAddrRing(fd int, pgoff int64, off unix.XDPRingOffset, entries uint32, r *xdpAddrRing, producer bool) error {
	p, err := xdpMapRing(fd, pgoff, off, entries, 8, &r.xdpRing)
	if err != nil {
		return err
	}
	r.descs = unsafe.Slice((*uint64)(p), entries)
	r.initCache(producer)
	return nil
}

func xdpMapDescRing(fd int, pgoff int64, off unix.XDPRingOffset, entries uint32, r *xdpDescRing, producer bool) error {
	p, err := xdpMapRing(fd, pgoff, off, entries, unsafe.Sizeof(unix.XDPDesc{}), &r.xdpRing)
	if err != nil {
		return err
	}
	r.descs = unsafe.Slice((*unix.XDPDesc)(p), entries)
	r.initCache(producer)
	return nil
}

func (r *xdpRing) initCache(producer bool) {
	if producer {
		r.cachedProd = atomic.LoadUint32(r.producer)
		r.cachedCons = atomic.LoadUint32(r.consumer) + r.size
	} else {
		r.cachedCons = atomic.LoadUint32(r.consumer)
		r.cachedProd = atomic.LoadUint32(r.producer)
	}
}

func (r *xdpRing) unmap() {
	if r.mem != nil {
		_ = unix.Munmap(r.mem)
		r.mem = nil
	}
	r.producer, r.consumer, r.flags = nil, nil, nil
}
