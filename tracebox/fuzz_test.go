package tracebox_test

import (
	"net/netip"
	"testing"

	"flowbox/tracebox"
	"flowbox/tracebox/tbxsim"
)

// FuzzParseReply: malformed replies (quotes, truncations, extensions) never
// panic, and the result can be diffed, formatted and matched.
func FuzzParseReply(f *testing.F) {
	probe, _ := tracebox.ParseProbe("ip{dst='1.2.3.4', src='1.1.1.1'} / tcp{src=1, dst=80} / mss(1460) / raw('abc')")
	pb, _ := tracebox.Craft(probe, 3)
	src, dst := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("1.1.1.1")
	full := tbxsim.Build4(src, dst, 1, 64, 0, append([]byte{11, 0, 0, 0, 0, 0, 0, 0}, pb...))
	f.Add(full)
	f.Add(full[:20+8+28])
	f.Add(full[:30])
	f.Add(tbxsim.Build4(src, dst, 1, 64, 0, append([]byte{11, 0, 0, 0, 0, 2, 0, 0}, append(pb, 0x20, 0, 0, 0, 0, 8, 1, 1, 1, 2, 3, 4)...)))
	f.Add(tbxsim.Build6(netip.MustParseAddr("fd00::1"), netip.MustParseAddr("dead::beef"), 58, 64, []byte{3, 0, 0, 0, 1, 0, 0, 0, 0x60, 0, 0, 0}))
	f.Add([]byte{0x45})
	f.Add([]byte{0x4f, 0, 0, 0xff, 0, 0, 0, 0, 1, 6, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 0, 1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := tracebox.ParseReply(b)
		_ = tracebox.Match(probe, r)
		orig := tracebox.Decode(pb)
		q := r.Quote
		if q == nil {
			q = r.Packet
		}
		m := &tracebox.Mods{Original: orig, Received: q, Partial: r.Partial, Ext: r.Ext,
			Items: tracebox.Diff(orig, q, r.Partial, tracebox.DiffOptions{ComparePartial: true})}
		_ = m.String()
		_ = m.VerboseString()
		_ = r.Packet.String()
		if _, err := tracebox.Craft(r.Packet, 0); err != nil {
			return
		}
	})
}

// FuzzParseProbe: arbitrary probe-language expressions never panic or hang.
func FuzzParseProbe(f *testing.F) {
	for _, s := range []string{"IP / TCP / mss(9000)", "IP/TCP/WSCALE/SACKP/TS/MPCAPABLE", "ip{dst='1.2.3.4'}/TCP",
		"IPv6/TCP/mss(9000)", "ip{ecn=2}/tcp{dst=80,flags=194}/mss(9000)", "IP/UDP", "IP/icmp{type=8}/raw('x')",
		"IP/RR(3)/TCP", "tcp{dst='x'}", "IP /", "sack{{1,2},{3,4}}", "TCPOption.new{kind=19,length=18,data={1,2}}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := tracebox.ParseProbe(s)
		if err != nil {
			return
		}
		_ = p.String()
		if b, err := tracebox.Craft(p, 5); err == nil {
			_ = tracebox.Decode(b)
		}
	})
}
