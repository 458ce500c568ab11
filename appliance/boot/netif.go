package boot

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// LinkMAC reads an interface's MAC address through netlink (read only).
func LinkMAC(name string) (net.HardwareAddr, error) {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return nil, linkErr(name, err)
	}
	return l.Attrs().HardwareAddr, nil
}

func linkErr(name string, err error) error {
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) || strings.Contains(err.Error(), "not found") {
		return fmt.Errorf("interface %s not found", name)
	}
	return fmt.Errorf("interface %s: %v", name, err)
}

// ifState is what an interface looked like before flowbox touched it.
type ifState struct {
	cfg     Interface
	index   int
	up      bool
	mtu     int
	mac     net.HardwareAddr
	promisc bool
	xdp     bool     // an XDP program was attached before
	added   []string // addresses flowbox added (CIDR)
	route   *netlink.Route
}

// Interfaces is the applied interface configuration; Restore undoes it.
type Interfaces struct {
	states []*ifState
	Log    func(string)
}

// Names lists the configured interfaces that exist.
func (is *Interfaces) Names() []string {
	var n []string
	for _, s := range is.states {
		n = append(n, s.cfg.Name)
	}
	return n
}

// ApplyInterfaces sets every [[interface]] up through netlink: MTU, MAC,
// promiscuity, kernel addresses, link up. It records how each interface
// was so that Restore can put it back. On error the interfaces already
// changed are restored before returning. A missing optional interface is
// skipped with a log line.
func ApplyInterfaces(cfg *Config, logf func(string)) (*Interfaces, error) {
	if logf == nil {
		logf = func(string) {}
	}
	is := &Interfaces{Log: logf}
	for _, in := range cfg.Interfaces {
		if err := is.apply(in); err != nil {
			if in.Optional && strings.Contains(err.Error(), "not found") {
				logf(fmt.Sprintf("interface %s: not present (optional), skipped", in.Name))
				continue
			}
			is.Restore()
			return nil, err
		}
	}
	return is, nil
}

func (is *Interfaces) apply(in Interface) error {
	l, err := netlink.LinkByName(in.Name)
	if err != nil {
		return linkErr(in.Name, err)
	}
	a := l.Attrs()
	st := &ifState{
		cfg: in, index: a.Index, up: a.RawFlags&unix.IFF_UP != 0, mtu: a.MTU,
		mac: append(net.HardwareAddr(nil), a.HardwareAddr...), promisc: a.RawFlags&unix.IFF_PROMISC != 0,
		xdp: a.Xdp != nil && a.Xdp.Attached,
	}
	is.states = append(is.states, st)
	if in.MTU != 0 && in.MTU != a.MTU {
		if err := netlink.LinkSetMTU(l, in.MTU); err != nil {
			return fmt.Errorf("interface %s: cannot set MTU %d: %v", in.Name, in.MTU, err)
		}
	}
	if in.MAC != "" {
		hw, _ := parseMAC(in.MAC)
		if hw.String() != a.HardwareAddr.String() {
			if err := netlink.LinkSetHardwareAddr(l, hw); err != nil {
				return fmt.Errorf("interface %s: cannot set MAC %s: %v", in.Name, hw, err)
			}
		}
	}
	if in.Promisc != nil && *in.Promisc != st.promisc {
		f := netlink.SetPromiscOff
		if *in.Promisc {
			f = netlink.SetPromiscOn
		}
		if err := f(l); err != nil {
			return fmt.Errorf("interface %s: cannot set promiscuous mode: %v", in.Name, err)
		}
	}
	if in.KernelAddresses {
		have := map[string]bool{}
		if list, err := netlink.AddrList(l, netlink.FAMILY_ALL); err == nil {
			for _, ad := range list {
				have[ad.IPNet.String()] = true
			}
		}
		for _, s := range in.Addresses {
			p, _ := netip.ParsePrefix(s)
			ipn := &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
			if have[ipn.String()] {
				continue
			}
			if err := netlink.AddrAdd(l, &netlink.Addr{IPNet: ipn}); err != nil {
				return fmt.Errorf("interface %s: cannot add address %s: %v", in.Name, s, err)
			}
			st.added = append(st.added, s)
		}
	}
	if in.IsUp() && !st.up {
		if err := netlink.LinkSetUp(l); err != nil {
			return fmt.Errorf("interface %s: cannot bring the link up: %v", in.Name, err)
		}
	}
	if in.Gateway != "" {
		rt := &netlink.Route{LinkIndex: a.Index, Gw: net.ParseIP(in.Gateway).To4(),
			Dst: &net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}}
		if err := netlink.RouteAdd(rt); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("interface %s: cannot add default route via %s: %v", in.Name, in.Gateway, err)
		} else if err == nil {
			st.route = rt
		}
	}
	return nil
}

// Restore detaches XDP programs flowbox left attached and, for interfaces
// with restore = true (the default), puts addresses, promiscuity, MTU,
// MAC and link state back as they were found. Errors are logged.
func (is *Interfaces) Restore() {
	if is == nil {
		return
	}
	for i := len(is.states) - 1; i >= 0; i-- {
		st := is.states[i]
		l, err := netlink.LinkByIndex(st.index)
		if err != nil {
			is.Log(fmt.Sprintf("interface %s: gone, nothing to restore", st.cfg.Name))
			continue
		}
		a := l.Attrs()
		if !st.xdp && a.Xdp != nil && a.Xdp.Attached {
			flags := 0
			switch a.Xdp.AttachMode {
			case 2: // XDP_ATTACHED_SKB
				flags = 1 << 1 // XDP_FLAGS_SKB_MODE
			case 1:
				flags = 1 << 2 // XDP_FLAGS_DRV_MODE
			}
			if err := netlink.LinkSetXdpFdWithFlags(l, -1, flags); err != nil {
				is.Log(fmt.Sprintf("interface %s: cannot detach XDP program: %v", st.cfg.Name, err))
			} else {
				is.Log(fmt.Sprintf("interface %s: XDP program detached", st.cfg.Name))
			}
		}
		if !st.cfg.Restores() {
			continue
		}
		var errs []string
		note := func(what string, err error) {
			if err != nil {
				errs = append(errs, what+": "+err.Error())
			}
		}
		if st.route != nil {
			note("default route", netlink.RouteDel(st.route))
		}
		for _, s := range st.added {
			ad, err := netlink.ParseAddr(s)
			if err == nil {
				note("address "+s, netlink.AddrDel(l, ad))
			}
		}
		if !st.up && a.RawFlags&unix.IFF_UP != 0 {
			note("link down", netlink.LinkSetDown(l))
		}
		if promisc := a.RawFlags&unix.IFF_PROMISC != 0; promisc != st.promisc {
			if st.promisc {
				note("promisc on", netlink.SetPromiscOn(l))
			} else {
				note("promisc off", netlink.SetPromiscOff(l))
			}
		}
		if a.MTU != st.mtu {
			note("MTU", netlink.LinkSetMTU(l, st.mtu))
		}
		if len(st.mac) == 6 && a.HardwareAddr.String() != st.mac.String() {
			note("MAC", netlink.LinkSetHardwareAddr(l, st.mac))
		}
		if len(errs) > 0 {
			is.Log(fmt.Sprintf("interface %s: restore: %s", st.cfg.Name, strings.Join(errs, "; ")))
		}
	}
	is.states = nil
}

// Missing lists the configured interfaces that do not exist now (read
// only; for --check).
func Missing(cfg *Config) []string {
	var out []string
	for _, in := range cfg.Interfaces {
		if _, err := netlink.LinkByName(in.Name); err != nil && !in.Optional {
			out = append(out, in.Name)
		}
	}
	return out
}
