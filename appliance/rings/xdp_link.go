//go:build linux

package rings

import (
	"errors"
	"unsafe"

	"golang.org/x/sys/unix"
)

// XDP programs are attached through a BPF link where the kernel has them
// (Linux 5.9+). The kernel removes a link's program when the link's file
// closes, and that also happens when flowbox dies without cleaning up
// (SIGKILL, the OOM killer, a crash): the device never keeps a program
// whose owner is gone, which would make the next start fail with
// "another XDP program is already attached". Older kernels get a netlink
// attachment, removed explicitly on close.

// xdpHook is one program attached to one device.
type xdpHook struct {
	nl      *xdpNetlink
	ifindex int
	progFD  int
	flags   uint32 // XDP_FLAGS_DRV_MODE or XDP_FLAGS_SKB_MODE
	linkFD  int    // the BPF link, or -1 for a netlink attachment
}

// attachXDPHook attaches progFD to ifindex in the mode flags names,
// failing if any program is attached already.
func attachXDPHook(nl *xdpNetlink, ifindex, progFD int, flags uint32) (*xdpHook, error) {
	h := &xdpHook{nl: nl, ifindex: ifindex, progFD: progFD, flags: flags, linkFD: -1}
	fd, err := bpfLinkCreateXDP(ifindex, progFD, flags)
	if err == nil {
		h.linkFD = fd
		return h, nil
	}
	if xdpIsPerm(err) || errors.Is(err, unix.EBUSY) || errors.Is(err, unix.EEXIST) ||
		errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ERANGE) {
		return nil, err // the driver or the device said no: netlink would too
	}
	// No BPF links for XDP in this kernel (EINVAL, ENOSYS): netlink.
	if err := nl.setXDP(ifindex, progFD, flags|unix.XDP_FLAGS_UPDATE_IF_NOEXIST, 0); err != nil {
		return nil, err
	}
	return h, nil
}

// attachXDPInMode attaches progFD in mode "native" or "generic", or with ""
// natively where the driver can and generically otherwise. It returns the
// hook and the mode in use ("xdp-native", "xdp-generic").
func attachXDPInMode(nl *xdpNetlink, ifindex, progFD int, mode string) (*xdpHook, string, error) {
	switch mode {
	case "native":
		h, err := attachXDPHook(nl, ifindex, progFD, unix.XDP_FLAGS_DRV_MODE)
		return h, "xdp-native", err
	case "generic":
		h, err := attachXDPHook(nl, ifindex, progFD, unix.XDP_FLAGS_SKB_MODE)
		return h, "xdp-generic", err
	}
	h, err := attachXDPHook(nl, ifindex, progFD, unix.XDP_FLAGS_DRV_MODE)
	// No driver support (EOPNOTSUPP), or the driver refuses this
	// configuration (veth: ERANGE for an MTU too large for native XDP,
	// EINVAL): generic mode works on any device. Permission and "another
	// program is attached" errors are not retried.
	if err != nil && !xdpIsPerm(err) && !errors.Is(err, unix.EBUSY) && !errors.Is(err, unix.EEXIST) {
		h, err = attachXDPHook(nl, ifindex, progFD, unix.XDP_FLAGS_SKB_MODE)
		return h, "xdp-generic", err
	}
	return h, "xdp-native", err
}

// detach removes the program: closing the link, or (netlink) only if our
// program is still the attached one.
func (h *xdpHook) detach() error {
	if h.linkFD >= 0 {
		err := unix.Close(h.linkFD)
		h.linkFD = -1
		return err
	}
	err := h.nl.setXDP(h.ifindex, -1, h.flags, h.progFD)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EOPNOTSUPP) {
		err = h.nl.setXDP(h.ifindex, -1, h.flags, 0)
	}
	if errors.Is(err, unix.ENODEV) || errors.Is(err, unix.EEXIST) {
		err = nil // device gone (took the program with it) / not ours any more
	}
	return err
}

// bpfLinkCreateXDP is bpf(BPF_LINK_CREATE) with attach type BPF_XDP.
func bpfLinkCreateXDP(ifindex, progFD int, flags uint32) (int, error) {
	var attr [64]byte // union bpf_attr, link_create: prog_fd, target_ifindex, attach_type, flags
	*(*uint32)(unsafe.Pointer(&attr[0])) = uint32(progFD)
	*(*uint32)(unsafe.Pointer(&attr[4])) = uint32(ifindex)
	*(*uint32)(unsafe.Pointer(&attr[8])) = unix.BPF_XDP
	*(*uint32)(unsafe.Pointer(&attr[12])) = flags
	fd, _, e := unix.Syscall(unix.SYS_BPF, unix.BPF_LINK_CREATE, uintptr(unsafe.Pointer(&attr[0])), uintptr(len(attr)))
	if e != 0 {
		return -1, e
	}
	return int(fd), nil
}
