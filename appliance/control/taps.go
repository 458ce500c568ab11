package control

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
	"flowbox/appliance/runtime"
	"flowbox/elements/classifier/ipexpr"
)

// The control plane taps edges for two things: byte/packet counters while
// `top` or `show graph --dot` need rates (push outputs and pull inputs),
// and pcap captures. An output has one Tap slot, which packet tracing
// also uses; a muxTap fans out to ours and keeps whatever tap was there
// (the tracer) as inner. Taps are only installed while wanted: the packet
// path otherwise pays one nil check per batch.
//
// Every tap change is made on the element's worker thread (Router.OnThread),
// and a muxTap is never modified once installed (a change installs a new
// one), so Observe needs no lock.

type edgeKey struct {
	elem string
	port int
	pull bool // an input port (pull edge) rather than an output
}

// edgeCount counts packets and bytes crossing an edge.
type edgeCount struct{ pkts, bytes atomic.Uint64 }

func (e *edgeCount) add(ps []*packet.Packet) {
	var n uint64
	for _, p := range ps {
		n += uint64(p.Len())
	}
	e.bytes.Add(n)
	e.pkts.Add(uint64(len(ps)))
}

type muxTap struct {
	inner core.Tap
	count *edgeCount
	caps  []*capture
}

func (m *muxTap) Observe(ctx *core.Ctx, from *core.Base, port int, b *packet.Batch) {
	if m.inner != nil {
		m.inner.Observe(ctx, from, port, b)
	}
	if m.count != nil {
		m.count.add(b.Packets())
	}
	for _, c := range m.caps {
		c.observe(b.Packets())
	}
}

type muxPullTap struct {
	inner core.PullTap
	count *edgeCount
}

func (m *muxPullTap) ObservePull(ctx *core.Ctx, to *core.Base, port int, pkts []*packet.Packet) {
	if m.inner != nil {
		m.inner.ObservePull(ctx, to, port, pkts)
	}
	m.count.add(pkts)
}

type tapManager struct {
	srv      *Server
	mu       sync.Mutex
	counting int // sessions that want counters
	counts   map[edgeKey]*edgeCount
	caps     []*capture
}

func newTapManager(s *Server) *tapManager {
	return &tapManager{srv: s, counts: map[edgeKey]*edgeCount{}}
}

// countersOn starts counting every edge (reference counted).
func (t *tapManager) countersOn() {
	t.mu.Lock()
	t.counting++
	first := t.counting == 1
	t.mu.Unlock()
	if first {
		t.reapply()
	}
}

func (t *tapManager) countersOff() {
	t.mu.Lock()
	t.counting--
	last := t.counting == 0
	t.mu.Unlock()
	if last {
		t.reapply()
	}
}

// counters returns a snapshot of the edge counters (packets, bytes).
func (t *tapManager) counters() map[edgeKey][2]uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[edgeKey][2]uint64, len(t.counts))
	for k, c := range t.counts {
		out[k] = [2]uint64{c.pkts.Load(), c.bytes.Load()}
	}
	return out
}

// reapply installs the wanted taps on every port of the current router
// (after a change, a trace add/clear, or a reload).
func (t *tapManager) reapply() {
	r := t.srv.Router()
	t.mu.Lock()
	counting := t.counting > 0
	caps := map[edgeKey][]*capture{}
	for _, c := range t.caps {
		caps[c.key] = append(caps[c.key], c)
	}
	t.mu.Unlock()
	for _, n := range r.Nodes {
		n := n
		b := n.Elem.Core()
		type change struct {
			port int
			mux  *muxTap // nil: remove ours
		}
		var outs []change
		for p := 0; p < b.NOutputs(); p++ {
			k := edgeKey{elem: n.Decl.Name, port: p}
			var m *muxTap
			cs := caps[k]
			countIt := counting && b.Output(p).Kind == core.Push
			if countIt || len(cs) > 0 {
				m = &muxTap{caps: cs}
				if countIt {
					m.count = t.edge(k)
				}
			}
			outs = append(outs, change{p, m})
		}
		var ins []*muxPullTap
		for p := 0; p < b.NInputs(); p++ {
			var m *muxPullTap
			if counting && b.Input(p).Kind == core.Pull {
				m = &muxPullTap{count: t.edge(edgeKey{elem: n.Decl.Name, port: p, pull: true})}
			}
			ins = append(ins, m)
		}
		r.OnThread(n.Elem, func() {
			for _, ch := range outs {
				o := b.Output(ch.port)
				inner := o.Tap
				if m, ok := inner.(*muxTap); ok {
					inner = m.inner
				}
				if ch.mux == nil {
					o.Tap = inner
					continue
				}
				ch.mux.inner = inner
				o.Tap = ch.mux
			}
			for p, m := range ins {
				in := b.Input(p)
				inner := in.Tap
				if old, ok := inner.(*muxPullTap); ok {
					inner = old.inner
				}
				if m == nil {
					in.Tap = inner
					continue
				}
				m.inner = inner
				in.Tap = m
			}
		})
	}
}

func (t *tapManager) edge(k edgeKey) *edgeCount {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.counts[k]
	if c == nil {
		c = &edgeCount{}
		t.counts[k] = c
	}
	return c
}

// capture writes packets crossing one output to a pcap file.
type capture struct {
	key     edgeKey
	file    string
	want    int64
	seen    atomic.Int64 // packets taken (observer side)
	written atomic.Int64
	lost    atomic.Int64 // packets the writer could not keep up with
	ch      chan record
	once    sync.Once
	done    chan struct{}
	err     error
	started time.Time
}

type record struct {
	data   []byte
	ts     int64
	rawIP  bool
	origLn int
}

// observe runs on the element's thread: copy and hand to the writer.
func (c *capture) observe(ps []*packet.Packet) {
	for _, p := range ps {
		n := c.seen.Load()
		if n >= c.want {
			return
		}
		c.seen.Store(n + 1)
		d := p.Data()
		rec := record{data: append([]byte(nil), d...), ts: p.Anno.Timestamp, rawIP: p.NetworkOffset() == 0, origLn: len(d)}
		select {
		case c.ch <- rec:
		default:
			c.lost.Add(1)
		}
		if n+1 == c.want {
			c.finish()
		}
	}
}

// finish ends the capture's input (once).
func (c *capture) finish() { c.once.Do(func() { close(c.ch) }) }

// writer drains the channel into the file, then removes the tap.
func (t *tapManager) writer(c *capture, f *os.File) {
	defer close(c.done)
	bw := bufio.NewWriterSize(f, 64<<10)
	var w *pcapgo.Writer
	header := func(raw bool) {
		if w != nil {
			return
		}
		lt := layers.LinkTypeEthernet
		if raw {
			lt = layers.LinkTypeRaw
		}
		w = pcapgo.NewWriterNanos(bw)
		if err := w.WriteFileHeader(65536, lt); err != nil && c.err == nil {
			c.err = err
		}
	}
	for rec := range c.ch {
		header(rec.rawIP)
		ts := time.Now()
		if rec.ts != 0 {
			ts = time.Unix(0, rec.ts)
		}
		ci := gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(rec.data), Length: rec.origLn}
		if err := w.WritePacket(ci, rec.data); err != nil && c.err == nil {
			c.err = err
		}
		c.written.Add(1)
	}
	header(false)
	if err := bw.Flush(); err != nil && c.err == nil {
		c.err = err
	}
	if err := f.Close(); err != nil && c.err == nil {
		c.err = err
	}
	t.removeCapture(c)
}

// startCapture taps elem's output port into file.
func (t *tapManager) startCapture(elem string, port int, file string, n int64) (*capture, error) {
	r := t.srv.Router()
	nd := r.Node(elem)
	if nd == nil {
		return nil, &runtime.HandlerError{Code: CodeNoElement, Msg: fmt.Sprintf("No element named '%s'", elem)}
	}
	if port < 0 || port >= nd.Elem.Core().NOutputs() {
		return nil, &Error{Code: CodeUnspecified, Msg: fmt.Sprintf("'%s' has no output %d (it has %d)", elem, port, nd.Elem.Core().NOutputs())}
	}
	if nd.Elem.Core().Output(port).Kind != core.Push {
		return nil, &Error{Code: CodeUnspecified, Msg: fmt.Sprintf("%s [%d] is a pull output: tap the push output feeding it, or one downstream", elem, port)}
	}
	f, err := os.Create(file)
	if err != nil {
		return nil, &Error{Code: CodeUnspecified, Msg: "pcap: " + err.Error()}
	}
	c := &capture{key: edgeKey{elem: elem, port: port}, file: file, want: n, ch: make(chan record, 4096), done: make(chan struct{}), started: time.Now()}
	t.mu.Lock()
	t.caps = append(t.caps, c)
	t.mu.Unlock()
	go t.writer(c, f)
	t.reapply()
	return c, nil
}

// removeCapture uninstalls a capture's tap (the writer calls it when done).
func (t *tapManager) removeCapture(c *capture) {
	t.mu.Lock()
	for i, x := range t.caps {
		if x == c {
			t.caps = append(t.caps[:i], t.caps[i+1:]...)
			break
		}
	}
	t.mu.Unlock()
	t.reapply()
}

// stop ends captures on key (all when key is nil) and waits for their
// files to be complete.
func (t *tapManager) stop(key *edgeKey) int {
	t.mu.Lock()
	var stop []*capture
	for _, c := range t.caps {
		if key == nil || c.key == *key {
			stop = append(stop, c)
		}
	}
	t.mu.Unlock()
	for _, c := range stop {
		// Uninstall first so the observer can no longer send, then close.
		t.mu.Lock()
		for i, x := range t.caps {
			if x == c {
				t.caps = append(t.caps[:i], t.caps[i+1:]...)
				break
			}
		}
		t.mu.Unlock()
	}
	if len(stop) > 0 {
		t.reapply()
	}
	for _, c := range stop {
		c.finish()
		<-c.done
	}
	return len(stop)
}

func (t *tapManager) stopAll() { t.stop(nil) }

var elemPort = regexp.MustCompile(`^(.+?)(?:\[(\d+)\])?$`)

// parseElemPort parses "elem" or "elem[3]".
func parseElemPort(s string) (string, int, error) {
	m := elemPort.FindStringSubmatch(s)
	if m == nil {
		return "", 0, &Error{Code: CodeSyntax, Msg: fmt.Sprintf("bad port '%s': want ELEM or ELEM[PORT]", s)}
	}
	port := 0
	if m[2] != "" {
		port, _ = strconv.Atoi(m[2])
	}
	return m[1], port, nil
}

func pcapCmd(c *Call) (string, error) {
	if len(c.Args) < 2 || len(c.Args) > 3 {
		return "", usageErr(c.Cmd)
	}
	elem, port, err := parseElemPort(c.Args[0])
	if err != nil {
		return "", err
	}
	n := int64(1000)
	if len(c.Args) == 3 {
		v, err := strconv.ParseInt(c.Args[2], 10, 64)
		if err != nil || v < 1 {
			return "", &Error{Code: CodeSyntax, Msg: fmt.Sprintf("pcap: N must be a positive number, not '%s'", c.Args[2])}
		}
		n = v
	}
	file := c.Sess.Path(c.Args[1])
	if _, err := c.Srv.taps.startCapture(elem, port, file, n); err != nil {
		return "", err
	}
	return fmt.Sprintf("capturing the next %d packet(s) from %s [%d] to %s ('show pcap' for progress)\n", n, elem, port, file), nil
}

func pcapStop(c *Call) (string, error) {
	if len(c.Args) > 1 {
		return "", usageErr(c.Cmd)
	}
	var key *edgeKey
	if len(c.Args) == 1 {
		e, p, err := parseElemPort(c.Args[0])
		if err != nil {
			return "", err
		}
		key = &edgeKey{elem: e, port: p}
	}
	n := c.Srv.taps.stop(key)
	return fmt.Sprintf("stopped %d capture(s)\n", n), nil
}

func showPcap(c *Call) (string, error) {
	t := c.Srv.taps
	t.mu.Lock()
	caps := append([]*capture(nil), t.caps...)
	t.mu.Unlock()
	if len(caps) == 0 {
		return "no pcap capture running\n", nil
	}
	sort.Slice(caps, func(i, j int) bool { return caps[i].started.Before(caps[j].started) })
	var b strings.Builder
	for _, x := range caps {
		fmt.Fprintf(&b, "%s [%d] -> %s: %d/%d packets", x.key.elem, x.key.port, x.file, x.written.Load(), x.want)
		if l := x.lost.Load(); l > 0 {
			fmt.Fprintf(&b, " (%d not written: writer too slow)", l)
		}
		b.WriteString("\n")
	}
	return b.String(), nil
}

// CompileFilter compiles an IPFilter expression ("tcp dst port 80", "src
// host 10.0.0.1 and udp") into a packet predicate for `trace add`. The
// IP header is found through the packet's IP-header annotation, else at
// the start of the data (IPv4) or after an Ethernet header. An empty
// expression matches every packet (nil).
func CompileFilter(expr string) (func(*packet.Packet) bool, error) {
	expr = strings.TrimSpace(expr)
	if expr == "" {
		return nil, nil
	}
	prog, _, err := ipexpr.Compile([]ipexpr.Rule{{Expr: expr, Output: 0}})
	if err != nil {
		return nil, &Error{Code: CodeSyntax, Msg: "bad filter: " + err.Error()}
	}
	return func(p *packet.Packet) bool {
		ip, mac := p.Network(), p.MacHeader()
		if ip == nil {
			d := p.Data()
			switch {
			case len(d) >= 34 && binary.BigEndian.Uint16(d[12:]) == 0x0800:
				ip, mac = d[14:], d
			case len(d) >= 20 && d[0]>>4 == 4:
				ip = d
			default:
				return false
			}
		}
		return prog.Match(ip, mac) >= 0
	}, nil
}
