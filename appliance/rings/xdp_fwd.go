//go:build linux

package rings

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"runtime"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// XDPForwardLoop is the bare AF_XDP IPv4 forwarder that the I/O benchmark
// compares flowbox against: the user-space limit with no element runtime.
// It receives on in and transmits on out (they may be the same device),
// and per packet does what a router does: parse Ethernet and IPv4, check
// the header (version, lengths, checksum), drop TTL<=1, decrement the TTL
// with an RFC 1624 incremental checksum update, and rewrite the MACs
// (source = out's MAC, destination = the MAC of out's IPv4 neighbour from
// the kernel neighbour table; add a static one with `ip neigh replace ADDR
// lladdr MAC dev OUT nud permanent`). Frames are copied from in's UMEM to
// out's, one batch of up to opt.Burst (default 64) per ring pass, with one
// sendto kick per 32 frames (copy mode) and no syscall at all on the
// receive side unless the driver asks for a wakeup or the loop idles.
// It runs on the calling goroutine, locked to its OS thread, until ctx is
// done, and returns the number of frames forwarded.
func XDPForwardLoop(ctx context.Context, in, out string, opt Options) (forwarded uint64, err error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	dst, err := xdpNeighbourMAC(out)
	if err != nil {
		return 0, err
	}
	return XDPForwardLoopTo(ctx, in, out, opt, dst)
}

// XDPForwardLoopTo is XDPForwardLoop with an explicit next-hop MAC.
func XDPForwardLoopTo(ctx context.Context, in, out string, opt Options, nextHop net.HardwareAddr) (forwarded uint64, err error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if len(nextHop) != 6 {
		return 0, fmt.Errorf("%s: next-hop MAC %q is not an Ethernet address: give six bytes", out, nextHop)
	}
	oi, err := net.InterfaceByName(out)
	if err != nil {
		return 0, CheckInterface(out)
	}
	if len(oi.HardwareAddr) != 6 {
		return 0, fmt.Errorf("%s: has no Ethernet address: forward out of an Ethernet device", out)
	}
	var src, dst [6]byte
	copy(src[:], oi.HardwareAddr)
	copy(dst[:], nextHop)

	pi, err := OpenXDP(in, opt)
	if err != nil {
		return 0, err
	}
	defer pi.Close()
	po := pi
	if out != in {
		if po, err = OpenXDP(out, opt); err != nil {
			return 0, err
		}
		defer po.Close()
	}
	if err := pi.register(); err != nil {
		return 0, err
	}
	if xdpFwdReady != nil {
		xdpFwdReady()
	}
	rs, ts := pi.rs, po.ts
	burst := uint32(pi.burst)
	maxTx := po.maxTx
	done := ctx.Done()
	idle := 0
	for {
		select {
		case <-done:
			return forwarded, nil
		default:
		}
		n := rs.rxPeek(burst)
		if n == 0 {
			rs.rxWakeup()
			if ts.tx.pending() > 0 {
				_ = ts.txFlush()
			} else {
				ts.txReclaim()
			}
			if idle++; idle > 1024 {
				// Nothing for a while: sleep in poll (10 ms at most, so
				// ctx is honoured promptly).
				fds := [1]unix.PollFd{{Fd: int32(rs.fd), Events: unix.POLLIN}}
				_, _ = unix.Poll(fds[:], 10)
				idle = 0
			}
			continue
		}
		idle = 0
		for i := uint32(0); i < n; i++ {
			f := rs.frame(rs.rxDesc(i))
			if f == nil || len(f) > maxTx || !RouteIPv4(f, &src, &dst) {
				continue
			}
			if !ts.txPut(f) {
				_ = ts.txFlush()
				if !ts.txPut(f) {
					continue
				}
			}
			forwarded++
		}
		rs.rxRecycle(n)
		if err := ts.txFlush(); err != nil && err != unix.ENETDOWN {
			return forwarded, po.txError(err)
		}
	}
}

// xdpFwdReady, when set (tests), is called once the loop's sockets are
// open and receiving.
var xdpFwdReady func()

// RouteIPv4 does a router's per-packet work in place and reports whether
// the frame should be forwarded: parse Ethernet+IPv4, check version,
// lengths and header checksum, drop TTL <= 1, TTL-1 with an RFC 1624
// incremental checksum update, rewrite both MACs. The bare forwarding
// loops of `make bench-io` use it, so they do exactly flowbox's work.
func RouteIPv4(f []byte, src, dst *[6]byte) bool {
	if len(f) < 14+20 || f[12] != 0x08 || f[13] != 0x00 {
		return false
	}
	ip := f[14:]
	ihl := int(ip[0]&0x0f) << 2
	if ip[0]>>4 != 4 || ihl < 20 || len(ip) < ihl {
		return false
	}
	if tot := int(binary.BigEndian.Uint16(ip[2:])); tot < ihl || tot > len(ip) {
		return false
	}
	if xdpCsum(ip[:ihl]) != 0xffff {
		return false
	}
	ttl := ip[8]
	if ttl <= 1 {
		return false
	}
	// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m') over the 16-bit word
	// holding TTL and protocol.
	old := uint32(ttl)<<8 | uint32(ip[9])
	ip[8] = ttl - 1
	nw := old - 0x100
	sum := uint32(^binary.BigEndian.Uint16(ip[10:])) + (^old & 0xffff) + nw
	sum = (sum & 0xffff) + (sum >> 16)
	sum = (sum & 0xffff) + (sum >> 16)
	binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
	copy(f[0:6], dst[:])
	copy(f[6:12], src[:])
	return true
}

// xdpCsum is the folded 16-bit one's-complement sum of b (0xffff for a
// valid IPv4 header including its checksum field).
func xdpCsum(b []byte) uint16 {
	var s uint32
	for len(b) >= 2 {
		s += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	for s > 0xffff {
		s = (s & 0xffff) + (s >> 16)
	}
	return uint16(s)
}

// xdpNeighbourMAC picks the MAC of an IPv4 neighbour of ifname (static
// entries first).
func xdpNeighbourMAC(ifname string) (net.HardwareAddr, error) {
	oi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, CheckInterface(ifname)
	}
	neighs, err := netlink.NeighList(oi.Index, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("%s: cannot read the neighbour table (%v): give the next-hop MAC explicitly (XDPForwardLoopTo)", ifname, err)
	}
	var best net.HardwareAddr
	for _, n := range neighs {
		if len(n.HardwareAddr) != 6 || n.State&(netlink.NUD_INCOMPLETE|netlink.NUD_FAILED) != 0 || n.State == netlink.NUD_NONE {
			continue
		}
		if n.State&netlink.NUD_PERMANENT != 0 {
			return n.HardwareAddr, nil
		}
		if best == nil {
			best = n.HardwareAddr
		}
	}
	if best == nil {
		return nil, fmt.Errorf("%s: no IPv4 neighbour with a MAC address to forward to: add one with `ip neigh replace ADDR lladdr MAC dev %s nud permanent`", ifname, ifname)
	}
	return best, nil
}
