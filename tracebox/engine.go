package tracebox

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"time"
)

// ErrTimeout is returned by Transport.Recv when the deadline passes (or an
// offline capture has no more replies for the current probe).
var ErrTimeout = errors.New("tracebox: timeout")

// Transport sends crafted L3 probes and returns L3 replies.
type Transport interface {
	// Send transmits one L3 packet and returns its send time.
	Send(b []byte) (time.Time, error)
	// Recv returns the next received L3 packet and its arrival time, or
	// ErrTimeout once deadline has passed.
	Recv(deadline time.Time) ([]byte, time.Time, error)
	// Source is the address probes are sent from (v6 selects the family).
	Source(v6 bool) netip.Addr
	Close() error
}

// Options configure a trace. The zero value plus Host is the CLI default.
type Options struct {
	Host   string     // destination as typed (printed in the header)
	Dst    netip.Addr // resolved destination; resolved from Host when zero
	Probe  *Packet    // nil: built-in probe (IPv4/TCP SYN dport 80, or IPv6/UDP per flags)
	IPv6   bool       // built-in probe uses IPv6
	UDP    bool       // built-in probe uses UDP
	DPort  int        // built-in probe destination port (default 80)
	MinTTL int        // default 1
	MaxTTL int        // default 64
	// Timeout per try (default 1s); Tries per hop (default 3).
	Timeout time.Duration
	Tries   int
	// Iface: outgoing interface; "" picks the one owning the route's source
	// address; "pcap:OUT:IN" is the offline mode (see OpenPcapTransport).
	Iface   string
	Resolve bool // reverse-resolve hop addresses
	// Compat reproduces tracebox 0.4.4 exactly, bugs included (delay
	// scaling, no header with -M>1, destination reply diffed as a quote, no
	// early stop on a silent tail, no PartialTCP comparison).
	Compat bool
	// SilentStop stops after this many consecutive silent hops (0 = default
	// 3; negative = never). Ignored (never) in Compat mode.
	SilentStop int
	PcapFile   string // record every probe and reply into this pcap
	NoFilter   bool   // do not install the netfilter rule
	Transport  Transport
	// Pace, when set, is called before every send (campaign rate limit).
	Pace func(ctx context.Context) error
	// OnStart is called once the destination and source are known.
	OnStart func(r *Result)
	// OnHop is called after every hop; returning true stops the trace.
	OnHop func(h *Hop) bool
}

// Hop is the outcome of one TTL.
type Hop struct {
	TTL   int
	From  netip.Addr // invalid when no reply
	Name  string     // reverse name (when Resolve), else From as text
	Sent  time.Time
	Recv  time.Time
	Delay time.Duration
	Probe *Packet // the probe as crafted for this TTL
	Reply *Reply  // nil when silent
	Mods  *Mods   // always non-nil
}

// Silent reports whether the hop did not answer.
func (h *Hop) Silent() bool { return h.Reply == nil }

// CompatDelayUS is tracebox 0.4.4's delay in µs: the seconds difference is
// scaled by 10^7 instead of 10^6.
func (h *Hop) CompatDelayUS() int64 {
	return (h.Recv.Unix()-h.Sent.Unix())*10000000 + int64(h.Recv.Nanosecond()/1000-h.Sent.Nanosecond()/1000)
}

// Result of a trace.
type Result struct {
	Host    string
	Dst     netip.Addr
	MinTTL  int
	MaxTTL  int
	Hops    []*Hop
	Reached bool   // the destination answered
	Last    *Reply // the destination's reply when Reached
	Probe   *Packet
}

// DefaultProbe builds tracebox's built-in probe: IPv4 (random ID, DF) or
// IPv6 (random flow label), then TCP SYN (random sport/seq, window 5840) or
// UDP (random sport), to dport.
func DefaultProbe(v6, udp bool, dport int) *Packet {
	p := &Packet{}
	if v6 {
		l := newIPv6()
		l.F[v6Flow].V = uint64(rand.Uint32() & 0xfffff)
		p.Layers = append(p.Layers, l)
	} else {
		l := newIP()
		l.F[ipID].V = uint64(rand.Uint32() & 0xffff)
		p.Layers = append(p.Layers, l)
	}
	if udp {
		u := newUDP()
		u.F[udpSport].V = uint64(1024 + rand.IntN(64511))
		u.F[udpDport].V = uint64(dport)
		p.Layers = append(p.Layers, u)
	} else {
		t := newTCP()
		t.F[tcpSport].V = uint64(1024 + rand.IntN(64511))
		t.F[tcpDport].V = uint64(dport)
		t.F[tcpSeq].V = uint64(rand.Uint32())
		p.Layers = append(p.Layers, t)
	}
	return p
}

// Resolve resolves host to an address of the family wanted.
func Resolve(ctx context.Context, host string, v6 bool) (netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return a.Unmap(), nil
	}
	netw := "ip4"
	if v6 {
		netw = "ip6"
	}
	as, err := net.DefaultResolver.LookupNetIP(ctx, netw, host)
	if err != nil {
		return netip.Addr{}, err
	}
	if len(as) == 0 {
		return netip.Addr{}, fmt.Errorf("%s: no address", host)
	}
	return as[0].Unmap(), nil
}

// Run performs a trace.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.MinTTL <= 0 {
		o.MinTTL = 1
	}
	if o.MaxTTL <= 0 {
		o.MaxTTL = 64
	}
	if o.MaxTTL > 255 {
		o.MaxTTL = 255
	}
	if o.Timeout <= 0 {
		o.Timeout = time.Second
	}
	if o.Tries <= 0 {
		o.Tries = 3
	}
	if o.DPort == 0 {
		o.DPort = 80
	}
	probe := o.Probe
	if probe == nil {
		probe = DefaultProbe(o.IPv6, o.UDP, o.DPort)
	} else {
		probe = probe.Clone()
	}
	n := probe.Net()
	if n == nil {
		return nil, errors.New("tracebox: the probe has no IP or IPv6 layer")
	}
	v6 := n.Kind == KIPv6
	dstIdx, srcIdx := ipDst, ipSrc
	if v6 {
		dstIdx, srcIdx = v6Dst, v6Src
	}
	dst := o.Dst
	if !dst.IsValid() {
		if a := n.F[dstIdx].A; a.IsValid() && !a.IsUnspecified() {
			dst = a
		} else if o.Host != "" {
			var err error
			if dst, err = Resolve(ctx, o.Host, v6); err != nil {
				return nil, fmt.Errorf("tracebox: cannot resolve %s: %w", o.Host, err)
			}
		} else {
			return nil, errors.New("tracebox: no destination")
		}
	}
	if dst.Is4() == v6 {
		return nil, fmt.Errorf("tracebox: destination %s does not match the probe's %s layer", dst, n.Name())
	}
	n.F[dstIdx].A = dst
	tr := o.Transport
	if tr == nil {
		var err error
		if strings.HasPrefix(o.Iface, "pcap:") {
			tr, err = OpenPcapTransport(o.Iface)
		} else {
			tr, err = OpenLive(o.Iface, dst)
		}
		if err != nil {
			return nil, err
		}
		defer tr.Close()
	}
	if a := n.F[srcIdx].A; !a.IsValid() || a.IsUnspecified() {
		n.F[srcIdx].A = tr.Source(v6)
	}
	if _, isLive := tr.(*liveTransport); isLive && !o.NoFilter {
		if f, err := NewFilter(probe); err == nil {
			defer f.Close()
		}
	}
	var rec *Recorder
	if o.PcapFile != "" {
		var err error
		if rec, err = NewRecorder(o.PcapFile); err != nil {
			return nil, err
		}
		defer rec.Close()
	}
	silentStop := o.SilentStop
	if silentStop == 0 {
		silentStop = 3
	}
	if o.Compat {
		silentStop = -1
	}
	res := &Result{Host: o.Host, Dst: dst, MinTTL: o.MinTTL, MaxTTL: o.MaxTTL, Probe: probe}
	if o.OnStart != nil {
		o.OnStart(res)
	}
	silent := 0
	seen := map[string]bool{} // replies already used (duplicates are dropped)
	for ttl := o.MinTTL; ttl <= o.MaxTTL; ttl++ {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		b, err := Craft(probe, ttl)
		if err != nil {
			return res, fmt.Errorf("tracebox: crafting the probe: %w", err)
		}
		orig := Decode(b)
		h := &Hop{TTL: ttl, Probe: orig}
		if d, ok := tr.(interface{ Drain() }); ok {
			d.Drain() // late or duplicated replies to the previous hop
		}
		for try := 0; try < o.Tries && h.Reply == nil; try++ {
			if o.Pace != nil {
				if err := o.Pace(ctx); err != nil {
					return res, err
				}
			}
			sent, err := tr.Send(b)
			if err != nil {
				return res, fmt.Errorf("tracebox: send: %w", err)
			}
			rec.write(b, sent)
			h.Sent = sent
			deadline := sent.Add(o.Timeout)
			for {
				rb, at, err := tr.Recv(deadline)
				if err != nil {
					if errors.Is(err, ErrTimeout) {
						break
					}
					return res, err
				}
				if ctx.Err() != nil {
					return res, ctx.Err()
				}
				rec.write(rb, at)
				r := ParseReply(rb)
				if !seen[string(rb)] && Match(orig, r) {
					seen[string(rb)] = true
					h.Reply, h.Recv = r, at
					break
				}
			}
		}
		h.Mods = &Mods{Original: orig}
		if h.Reply != nil {
			h.From = h.Reply.Packet.Src()
			h.Delay = h.Recv.Sub(h.Sent)
			h.Name = h.From.String()
			if o.Resolve {
				h.Name = reverse(ctx, h.From)
			}
			fillMods(h, o.Compat)
		}
		res.Hops = append(res.Hops, h)
		reached := h.Reply != nil && h.From == dst
		if reached {
			res.Reached, res.Last = true, h.Reply
		}
		if h.Reply == nil {
			silent++
		} else {
			silent = 0
		}
		if o.OnHop != nil && o.OnHop(h) {
			break
		}
		if reached || (silentStop > 0 && silent >= silentStop) {
			break
		}
	}
	return res, nil
}

func fillMods(h *Hop, compat bool) {
	m, r := h.Mods, h.Reply
	m.Reply = r.Packet
	if r.Quote != nil {
		m.Received, m.Partial, m.Ext = r.Quote, r.Partial, r.Ext
		m.Items = Diff(m.Original, r.Quote, r.Partial, DiffOptions{ComparePartial: !compat})
		return
	}
	m.Received = r.Packet
	if compat {
		m.Items = Diff(m.Original, r.Packet, false, DiffOptions{})
		return
	}
	m.Direct = true
	m.Summary = summary(r.Packet)
}

// summary describes a direct reply: "TCP ( SYN ACK )", "UDP", "ICMP 0/0".
func summary(p *Packet) string {
	if t := p.First(KTCP); t != nil {
		return "TCP " + t.F[tcpFlags].String()
	}
	if p.First(KUDP) != nil {
		return "UDP"
	}
	for _, k := range []Kind{KICMP, KICMPv6} {
		if i := p.First(k); i != nil {
			return fmt.Sprintf("%s %d/%d", i.Name(), i.F[icmpType].V, i.F[icmpCode].V)
		}
	}
	if n := p.Net(); n != nil {
		return n.Name()
	}
	return "?"
}

func reverse(ctx context.Context, a netip.Addr) string {
	c, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	names, err := net.DefaultResolver.LookupAddr(c, a.String())
	if err != nil || len(names) == 0 {
		return a.String()
	}
	return strings.TrimSuffix(names[0], ".")
}
