//go:build linux

package rings

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A minimal rtnetlink client for attaching and detaching XDP programs with
// explicit mode flags. asavie/xdp's Program.Attach/Detach always pass flags
// 0 (so an SKB-mode program is never removed and its removeProgram loop
// then waits forever), and vishvananda/netlink's XDP setter works only in
// the calling thread's network namespace. The socket here is opened once,
// in the namespace that owns the device, and kept until Close, so Close
// works from any goroutine/thread.

type xdpNetlink struct {
	fd  int
	seq atomic.Uint32
}

func newXDPNetlink() (*xdpNetlink, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, err
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, err
	}
	// Don't block forever if the kernel never answers.
	tv := unix.Timeval{Sec: 5}
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	return &xdpNetlink{fd: fd}, nil
}

func (n *xdpNetlink) close() {
	if n != nil && n.fd >= 0 {
		unix.Close(n.fd)
		n.fd = -1
	}
}

func xdpNlAlign(l int) int { return (l + 3) &^ 3 }

func xdpAppendAttr(b []byte, typ uint16, val []byte) []byte {
	l := unix.SizeofRtAttr + len(val)
	var h [4]byte
	binary.NativeEndian.PutUint16(h[0:], uint16(l))
	binary.NativeEndian.PutUint16(h[2:], typ)
	b = append(b, h[:]...)
	b = append(b, val...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func xdpU32(v uint32) []byte {
	var b [4]byte
	binary.NativeEndian.PutUint32(b[:], v)
	return b[:]
}

// request sends one rtnetlink message with the given ifinfomsg and
// attributes and returns the payloads of the replies (for RTM_GETLINK) or
// the error carried by the ACK.
func (n *xdpNetlink) request(typ uint16, flags uint16, ifindex int, attrs []byte) ([][]byte, error) {
	seq := n.seq.Add(1)
	ifi := unix.IfInfomsg{Family: unix.AF_UNSPEC, Index: int32(ifindex)}
	ifib := unsafe.Slice((*byte)(unsafe.Pointer(&ifi)), unix.SizeofIfInfomsg)
	total := unix.SizeofNlMsghdr + unix.SizeofIfInfomsg + len(attrs)
	msg := make([]byte, unix.SizeofNlMsghdr, total)
	binary.NativeEndian.PutUint32(msg[0:], uint32(total))
	binary.NativeEndian.PutUint16(msg[4:], typ)
	binary.NativeEndian.PutUint16(msg[6:], flags|unix.NLM_F_REQUEST|unix.NLM_F_ACK)
	binary.NativeEndian.PutUint32(msg[8:], seq)
	msg = append(msg, ifib...)
	msg = append(msg, attrs...)
	if err := unix.Sendto(n.fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, err
	}
	var out [][]byte
	buf := make([]byte, 1<<16)
	for {
		nr, _, err := unix.Recvfrom(n.fd, buf, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		b := buf[:nr]
		for len(b) >= unix.SizeofNlMsghdr {
			ml := int(binary.NativeEndian.Uint32(b[0:]))
			mt := binary.NativeEndian.Uint16(b[4:])
			ms := binary.NativeEndian.Uint32(b[8:])
			if ml < unix.SizeofNlMsghdr || ml > len(b) {
				return nil, errors.New("malformed netlink reply")
			}
			data := b[unix.SizeofNlMsghdr:ml]
			b = b[min(xdpNlAlign(ml), len(b)):]
			if ms != seq {
				continue
			}
			switch mt {
			case unix.NLMSG_ERROR:
				if len(data) < 4 {
					return nil, errors.New("short netlink error")
				}
				if e := int32(binary.NativeEndian.Uint32(data)); e != 0 {
					return nil, unix.Errno(-e)
				}
				return out, nil
			case unix.NLMSG_DONE:
				return out, nil
			default:
				out = append(out, append([]byte(nil), data...))
			}
		}
	}
}

// setXDP attaches progFD (or detaches with progFD = -1) with mode flags.
// expectedFD > 0 makes a detach conditional on our program still being the
// attached one (XDP_FLAGS_REPLACE), so we never remove somebody else's.
func (n *xdpNetlink) setXDP(ifindex, progFD int, flags uint32, expectedFD int) error {
	var nest []byte
	nest = xdpAppendAttr(nest, unix.IFLA_XDP_FD, xdpU32(uint32(int32(progFD))))
	if expectedFD > 0 {
		flags |= unix.XDP_FLAGS_REPLACE
		nest = xdpAppendAttr(nest, unix.IFLA_XDP_EXPECTED_FD, xdpU32(uint32(expectedFD)))
	}
	if flags != 0 {
		nest = xdpAppendAttr(nest, unix.IFLA_XDP_FLAGS, xdpU32(flags))
	}
	attrs := xdpAppendAttr(nil, unix.IFLA_XDP|unix.NLA_F_NESTED, nest)
	_, err := n.request(unix.RTM_SETLINK, 0, ifindex, attrs)
	return err
}

// xdpState is what IFLA_XDP reports for a device.
type xdpState struct {
	attached uint8 // XDP_ATTACHED_NONE/DRV/SKB/HW/MULTI
	progID   uint32
}

const (
	xdpAttachedNone = 0
	xdpAttachedDrv  = 1
	xdpAttachedSkb  = 2
)

// queryXDP reads the device's XDP attachment.
func (n *xdpNetlink) queryXDP(ifindex int) (xdpState, error) {
	var st xdpState
	replies, err := n.request(unix.RTM_GETLINK, 0, ifindex, nil)
	if err != nil {
		return st, err
	}
	for _, r := range replies {
		if len(r) < unix.SizeofIfInfomsg {
			continue
		}
		b := r[unix.SizeofIfInfomsg:]
		for len(b) >= unix.SizeofRtAttr {
			l := int(binary.NativeEndian.Uint16(b[0:]))
			t := binary.NativeEndian.Uint16(b[2:]) &^ (unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER)
			if l < unix.SizeofRtAttr || l > len(b) {
				break
			}
			if t == unix.IFLA_XDP {
				in := b[unix.SizeofRtAttr:l]
				for len(in) >= unix.SizeofRtAttr {
					il := int(binary.NativeEndian.Uint16(in[0:]))
					it := binary.NativeEndian.Uint16(in[2:])
					if il < unix.SizeofRtAttr || il > len(in) {
						break
					}
					v := in[unix.SizeofRtAttr:il]
					switch it {
					case unix.IFLA_XDP_ATTACHED:
						if len(v) >= 1 {
							st.attached = v[0]
						}
					case unix.IFLA_XDP_PROG_ID:
						if len(v) >= 4 {
							st.progID = binary.NativeEndian.Uint32(v)
						}
					}
					in = in[min(xdpNlAlign(il), len(in)):]
				}
			}
			b = b[min(xdpNlAlign(l), len(b)):]
		}
		return st, nil
	}
	return st, fmt.Errorf("no RTM_NEWLINK reply for ifindex %d", ifindex)
}
