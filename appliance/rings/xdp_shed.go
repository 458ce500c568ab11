//go:build linux

package rings

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"
)

// Load shedding for METHOD PACKET (Options.Shed, FromDevice SHED).
//
// Under overload an AF_PACKET reader livelocks when the kernel's receive
// work for its device runs on its own core: every offered frame costs
// the full receive path (skb, protocol taps, the copy into the ring)
// before the full ring drops it, and that softirq work has priority over
// the reader, which gets too little CPU to empty the ring. A shedder
// attaches a tiny XDP program to the device that drops frames at the
// driver, before any of that work, while the reader says its ring is
// backed up. The switch is a word in a BPF array map that flowbox maps
// into its memory (BPF_F_MMAPABLE), so turning shedding on and off costs
// no system call; the program counts what it dropped in the same map.
//
// The reader turns shedding on when its ring is 3/4 full and off when it
// has drained below 1/4: the ring always holds work, so the reader stays
// busy at its capacity while the excess is dropped at the cheapest point
// the kernel offers.
//
// A device has one shedder, shared by the members of a PACKET_FANOUT group
// (QUEUES > 1), each with its own ring. The map word counts the members
// whose ring is backed up; the program sheds while it is not zero (the
// fanout hash spreads flows, so one backed-up member means the device is
// offered more than the group can take).

const (
	shedValueSize = 16 // u32 backed-up rings (shed while > 0), u32 pad, u64 frames dropped
	bpfFMmapable  = 1 << 10
)

type xdpShedder struct {
	key     xdpKey // device (registry key); refs: ports sharing it
	refs    int
	nl      *xdpNetlink
	m       *ebpf.Map
	prog    *ebpf.Program
	hook    *xdpHook
	mem     []byte
	on      *uint32
	dropped *uint64
	mode    string // "xdp-native" or "xdp-generic"
}

// shedProgram is: if map[0].backedUp != 0 { map[0].dropped++; return XDP_DROP };
// return XDP_PASS.
func shedProgram(mapFD int) asm.Instructions {
	return asm.Instructions{
		asm.StoreImm(asm.R10, -4, 0, asm.Word), // key 0
		asm.Mov.Reg(asm.R2, asm.R10),
		asm.Add.Imm(asm.R2, -4),
		asm.LoadMapPtr(asm.R1, mapFD),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "pass"),
		asm.LoadMem(asm.R1, asm.R0, 0, asm.Word),
		asm.JEq.Imm(asm.R1, 0, "pass"),
		asm.Add.Imm(asm.R0, 8),
		asm.Mov.Imm(asm.R1, 1),
		asm.StoreXAdd(asm.R0, asm.R1, asm.DWord),
		asm.Mov.Imm(asm.R0, 1), // XDP_DROP
		asm.Return(),
		asm.Mov.Imm(asm.R0, 2).Sym("pass"), // XDP_PASS
		asm.Return(),
	}
}

var (
	shedMu   sync.Mutex
	shedders = map[xdpKey]*xdpShedder{}
)

// acquireShedder returns the device's shedder, loading and attaching it
// on first use. Release it with releaseShedder.
func acquireShedder(ifname string, ifindex int) (*xdpShedder, error) {
	dev, ino := xdpNetnsKey()
	key := xdpKey{dev, ino, ifindex}
	shedMu.Lock()
	defer shedMu.Unlock()
	if s := shedders[key]; s != nil {
		s.refs++
		return s, nil
	}
	s, err := newXDPShedder(ifname, ifindex)
	if err != nil {
		return nil, err
	}
	s.key, s.refs = key, 1
	shedders[key] = s
	return s, nil
}

// releaseShedder drops one port's share; the last one detaches the program.
func releaseShedder(s *xdpShedder) error {
	shedMu.Lock()
	defer shedMu.Unlock()
	if s.refs--; s.refs > 0 {
		return nil
	}
	if shedders[s.key] == s {
		delete(shedders, s.key)
	}
	return s.close()
}

// newXDPShedder loads the program and attaches it to ifindex, natively if
// the driver can, else in generic mode.
func newXDPShedder(ifname string, ifindex int) (*xdpShedder, error) {
	xdpRaiseMemlock()
	s := &xdpShedder{}
	var err error
	if s.m, err = ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: shedValueSize, MaxEntries: 1, Flags: bpfFMmapable}); err != nil {
		return nil, s.fail(ifname, "creating its map", err)
	}
	if s.mem, err = unix.Mmap(s.m.FD(), 0, unix.Getpagesize(), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != nil {
		return nil, s.fail(ifname, "mapping its map", err)
	}
	s.on = (*uint32)(unsafe.Pointer(&s.mem[0]))
	s.dropped = (*uint64)(unsafe.Pointer(&s.mem[8]))
	if s.prog, err = ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.XDP, Instructions: shedProgram(s.m.FD()), License: "GPL"}); err != nil {
		return nil, s.fail(ifname, "loading its program", err)
	}
	if s.nl, err = newXDPNetlink(); err != nil {
		return nil, s.fail(ifname, "opening netlink", err)
	}
	s.hook, s.mode, err = attachXDPInMode(s.nl, ifindex, s.prog.FD(), "")
	if err != nil {
		return nil, s.fail(ifname, "attaching its program", err)
	}
	return s, nil
}

func (s *xdpShedder) fail(ifname, what string, err error) error {
	s.close()
	if xdpIsPerm(err) {
		return PermissionError(ifname, "XDP load shedding ("+what+")", xdpCaps, err)
	}
	if errors.Is(err, unix.EBUSY) || errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("%s: SHED needs the device's XDP hook, and another XDP program is attached (%v): remove it or use SHED false", ifname, err)
	}
	return fmt.Errorf("%s: XDP load shedding failed %s (%v): use SHED false", ifname, what, err)
}

// backedUp adds (true) or removes (false) one backed-up ring: an atomic
// add on the mapped map value, no system call.
func (s *xdpShedder) backedUp(yes bool) {
	if yes {
		atomic.AddUint32(s.on, 1)
	} else {
		atomic.AddUint32(s.on, ^uint32(0))
	}
}

// Dropped is the number of frames the program has dropped.
func (s *xdpShedder) Dropped() uint64 { return atomic.LoadUint64(s.dropped) }

func (s *xdpShedder) close() error {
	var err error
	if s.hook != nil {
		err = s.hook.detach()
		s.hook = nil
	}
	if s.nl != nil {
		s.nl.close()
		s.nl = nil
	}
	if s.prog != nil {
		s.prog.Close()
		s.prog = nil
	}
	if s.mem != nil {
		unix.Munmap(s.mem)
		s.mem = nil
	}
	if s.m != nil {
		s.m.Close()
		s.m = nil
	}
	return err
}
