package tracebox_test

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"flowbox/tracebox/tbxsim"
)

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// rfc792Main runs inside a router namespace as an "RFC 792 router": every
// IPv4 packet arriving with TTL <= 1 (the kernel drops them through an
// nftables rule) is answered with an ICMP time exceeded quoting only the IP
// header and the first 8 bytes of the datagram. It exits after 30 s.
func rfc792Main() int {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM, int(htons(unix.ETH_P_IP)))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	raw, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_RAW)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 200000})
	os.Stdout.WriteString("ready\n")
	end := time.Now().Add(30 * time.Second)
	buf := make([]byte, 65536)
	for time.Now().Before(end) {
		n, from, err := unix.Recvfrom(fd, buf, 0)
		if err != nil || n < 28 {
			continue
		}
		b := buf[:n]
		ll, ok := from.(*unix.SockaddrLinklayer)
		if !ok || ll.Pkttype == unix.PACKET_OUTGOING || b[0]>>4 != 4 || b[8] > 1 {
			continue
		}
		ifi, err := net.InterfaceByIndex(ll.Ifindex)
		if err != nil {
			continue
		}
		var src netip.Addr
		addrs, _ := ifi.Addrs()
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Is4() {
				src = p.Addr()
			}
		}
		if !src.IsValid() {
			continue
		}
		hl := int(b[0]&0xf) * 4
		q := b[:min(len(b), hl+8)]
		to := netip.AddrFrom4([4]byte(b[12:16]))
		pkt := tbxsim.Build4(src, to, 1, 64, 0, append([]byte{11, 0, 0, 0, 0, 0, 0, 0}, q...))
		unix.Sendto(raw, pkt, 0, &unix.SockaddrInet4{Addr: to.As4()})
	}
	return 0
}
