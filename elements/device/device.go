// Package device holds flowbox's device I/O elements: FromDevice and
// ToDevice (AF_PACKET TPACKET rings or AF_XDP, through appliance/rings),
// ToHost and FromHost (a TAP device: the kernel-stack fallback path) and
// VPort (an in-process wire between two configurations).
package device

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"flowbox/appliance/core"
	"flowbox/appliance/rings"
)

// devArgs are the arguments FromDevice and ToDevice share.
type devArgs struct {
	ifname    string
	methodStr string
	method    rings.Method
	opt       rings.Options
	burst     int
}

func (d *devArgs) specs() []core.Spec {
	return []core.Spec{
		core.Pos("DEVNAME", core.Word(&d.ifname)).Required(),
		core.Key("METHOD", core.Word(&d.methodStr)),
		core.Key("BURST", core.Int(&d.burst)),
		core.Key("QUEUE", core.Int(&d.opt.Queue)),
		core.Key("QUEUES", core.Int(&d.opt.Queues)),
		core.Key("XDP_MODE", core.Word(&d.opt.XDPMode)),
		core.Key("RING_FRAMES", core.Int(&d.opt.RingFrames)),
	}
}

func (d *devArgs) check() error {
	m, err := rings.ParseMethod(d.methodStr)
	if err != nil {
		return fmt.Errorf("%s: %v", d.ifname, err)
	}
	d.method = m
	if d.burst < 1 {
		return fmt.Errorf("BURST must be >= 1")
	}
	if d.opt.Queue < 0 {
		return fmt.Errorf("QUEUE must be >= 0")
	}
	if d.opt.Queues < 0 {
		return fmt.Errorf("QUEUES must be >= 0")
	}
	if d.opt.Queues > 1 && d.opt.Queue >= d.opt.Queues {
		return fmt.Errorf("QUEUE %d must be below QUEUES %d", d.opt.Queue, d.opt.Queues)
	}
	if d.opt.RingFrames < 0 {
		return fmt.Errorf("RING_FRAMES must be >= 0")
	}
	d.opt.Burst = min(d.burst, 64)
	return rings.Check(d.ifname, d.method, d.opt)
}

var devArgDocs = []core.Item{
	{Name: "DEVNAME", Text: "string: the network interface"},
	{Name: "METHOD", Text: "AUTO, PACKET or XDP: I/O method (default AUTO: XDP when it opens, else PACKET)"},
	{Name: "BURST", Text: "integer >= 1: packets per task run (default 64)"},
	{Name: "QUEUE", Text: "integer: NIC queue (XDP) / fanout member index (PACKET) (default 0)"},
	{Name: "QUEUES", Text: "integer: queues/workers sharing the device; > 1 joins a PACKET_FANOUT hash group (default 1)"},
	{Name: "XDP_MODE", Text: "native, generic or empty: XDP attach mode (default: native, then generic)"},
	{Name: "RING_FRAMES", Text: "integer: frames per ring (default 4096)"},
}

// statHandlers are the counters every device element exposes, read from
// the port (shared by every element holding the same device queue).
func statHandlers(stats func() (rings.Stats, bool), method func() string, mode func() string, queue int) []core.Handler {
	u := func(name string, f func(s rings.Stats) uint64) core.Handler {
		return core.ReadOnly(name, func() string {
			s, ok := stats()
			if !ok {
				return "0"
			}
			return strconv.FormatUint(f(s), 10)
		})
	}
	return []core.Handler{
		u("rx", func(s rings.Stats) uint64 { return s.RX }),
		u("tx", func(s rings.Stats) uint64 { return s.TX }),
		u("rx_drops", func(s rings.Stats) uint64 { return s.RXDrops }),
		u("tx_drops", func(s rings.Stats) uint64 { return s.TXDrops }),
		u("kernel_drops", func(s rings.Stats) uint64 { return s.KernelDrops }),
		u("shed_drops", func(s rings.Stats) uint64 { return s.Shed }),
		core.ReadOnly("drop_reasons", func() string {
			s, ok := stats()
			if !ok {
				return ""
			}
			return formatReasons(s.DropReasons)
		}),
		core.ReadOnly("method", method),
		core.ReadOnly("mode", mode),
		core.ReadOnly("queue", func() string { return strconv.Itoa(queue) }),
	}
}

var statHandlerDocs = []core.Item{
	{Name: "rx", Text: "read: frames received on the device queue"},
	{Name: "tx", Text: "read: frames transmitted on the device queue"},
	{Name: "rx_drops", Text: "read: received frames dropped (oversized, truncated, runt)"},
	{Name: "tx_drops", Text: "read: frames not transmitted (oversized, runt, ring full)"},
	{Name: "kernel_drops", Text: "read: frames the kernel dropped because the ring was full"},
	{Name: "shed_drops", Text: "read: frames dropped by XDP load shedding before the kernel's receive path (FromDevice SHED)"},
	{Name: "drop_reasons", Text: "read: one 'reason count' line per drop reason"},
	{Name: "method", Text: "read: the method in use (PACKET or XDP)"},
	{Name: "mode", Text: "read: method detail (tpacket_v2, tpacket_v2+shed-xdp-native, xdp-native, xdp-generic)"},
	{Name: "queue", Text: "read: QUEUE"},
}

func formatReasons(m map[string]uint64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s %d", k, m[k])
	}
	return b.String()
}

func errorf(format string, a ...any) error { return fmt.Errorf(format, a...) }

func itoa(n int) string { return strconv.Itoa(n) }

// heldPort is a device queue held from the registry (rings.Acquire), with
// its last counters kept after release so handlers still answer after the
// run (flowbox run -h).
type heldPort struct {
	port      rings.Port
	release   func()
	final     rings.Stats
	finalMode string
	haveFinal bool
}

// Port is the device queue in use (nil before Initialize; tests).
func (h *heldPort) Port() rings.Port { return h.port }

// releasePort gives the queue back, keeping its last counters.
func (h *heldPort) releasePort() {
	if h.release == nil {
		return
	}
	h.final, h.finalMode, h.haveFinal = h.port.Stats(), h.port.Mode(), true
	h.release()
	h.release, h.port = nil, nil
}

// dropHold gives the queue back without keeping counters (the old element
// of a hot reconfiguration, whose successor holds the same queue).
func (h *heldPort) dropHold() {
	if h.release != nil {
		h.release()
		h.release, h.port = nil, nil
	}
}

func (h *heldPort) stats() (rings.Stats, bool) {
	if h.port == nil {
		return h.final, h.haveFinal
	}
	return h.port.Stats(), true
}

func (h *heldPort) modeName() string {
	if h.port == nil {
		return h.finalMode
	}
	return h.port.Mode()
}

// methodName is the method in use, or the configured one before Initialize.
func (h *heldPort) methodName(configured rings.Method) string {
	if h.port == nil {
		return string(configured)
	}
	return string(h.port.Method())
}
