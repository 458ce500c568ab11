//go:build linux

package main

import (
	"context"
	"net"

	"github.com/asavie/xdp"
	"github.com/vishvananda/netlink"
)

// asavieLoop is the same forwarder on asavie/xdp v0.3.3's own data path
// (Fill/GetDescs/Poll/Receive/Transmit, as in its l2fwd example), for
// comparison with rings.XDPForwardLoop. It attaches with the library's
// default flags (0: native where the driver has it).
func asavieLoop(ctx context.Context, in, out string) (uint64, error) {
	li, err := netlink.LinkByName(in)
	if err != nil {
		return 0, err
	}
	lo, err := netlink.LinkByName(out)
	if err != nil {
		return 0, err
	}
	prog, err := xdp.NewProgram(1)
	if err != nil {
		return 0, err
	}
	defer prog.Close()
	if err := prog.Attach(li.Attrs().Index); err != nil {
		return 0, err
	}
	defer prog.Detach(li.Attrs().Index)
	opts := &xdp.SocketOptions{NumFrames: 4096, FrameSize: 2048, FillRingNumDescs: 2048,
		CompletionRingNumDescs: 2048, RxRingNumDescs: 2048, TxRingNumDescs: 2048}
	xi, err := xdp.NewSocket(li.Attrs().Index, 0, opts)
	if err != nil {
		return 0, err
	}
	defer xi.Close()
	if err := prog.Register(0, xi.FD()); err != nil {
		return 0, err
	}
	xo, err := xdp.NewSocket(lo.Attrs().Index, 0, opts)
	if err != nil {
		return 0, err
	}
	defer xo.Close()
	oi, _ := net.InterfaceByName(out)
	src := oi.HardwareAddr
	dst := net.HardwareAddr{0x02, 0xfb, 0xfb, 0, 0, 0x99}
	var fwd uint64
	for ctx.Err() == nil {
		xi.Fill(xi.GetDescs(xi.NumFreeFillSlots()))
		n, _, err := xi.Poll(10)
		if err != nil {
			return fwd, err
		}
		if xo.NumTransmitted() > 0 {
			xo.Complete(xo.NumCompleted())
		}
		if n == 0 {
			continue
		}
		rx := xi.Receive(n)
		txd := xo.GetDescs(len(rx))
		k := 0
		for _, d := range rx {
			f := xi.GetFrame(d)
			if k >= len(txd) || !route(f, src, dst) {
				continue
			}
			txd[k].Len = uint32(copy(xo.GetFrame(txd[k]), f))
			k++
		}
		// asavie kicks once per Transmit; copy mode sends 32 per kick.
		for sent := 0; sent < k; {
			sent += xo.Transmit(txd[sent:k])
			xo.Complete(xo.NumCompleted())
		}
		fwd += uint64(k)
	}
	return fwd, nil
}
