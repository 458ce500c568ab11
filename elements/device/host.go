package device

import (
	"net/netip"
	"strings"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
	"flowbox/appliance/rings"
)

// tapArgs are the arguments ToHost and FromHost share.
type tapArgs struct {
	devname string
	addr    netip.Prefix
	ether   [6]byte
	mtu     int
	burst   int
}

func (h *tapArgs) specs() []core.Spec {
	return []core.Spec{
		core.Pos("DEVNAME", core.Word(&h.devname)).Required(),
		core.Key("DST", addrMask(&h.addr)),
		core.Key("ETHER", core.Ether(&h.ether)),
		core.Key("MTU", core.Int(&h.mtu)),
		core.Key("BURST", core.Int(&h.burst)),
	}
}

// addrMask parses DST, an interface address with its mask in Click's
// forms (10.0.0.1/24, 10.0.0.1/255.255.255.0, 10.0.0.1 mask
// 255.255.255.0). Unlike core.IPPrefix it keeps the host bits: they are
// the address the kernel side gets.
func addrMask(dst *netip.Prefix) core.Value {
	return func(s string) error {
		p, err := core.ParseIPPrefix(s)
		if err != nil {
			return err
		}
		a := strings.TrimSpace(s)
		if x, _, ok := strings.Cut(a, " mask "); ok {
			a = x
		}
		a, _, _ = strings.Cut(a, "/")
		if ip, err := netip.ParseAddr(strings.TrimSpace(a)); err == nil && ip.Is4() == p.Addr().Is4() {
			*dst = netip.PrefixFrom(ip, p.Bits())
			return nil
		}
		*dst = p // abbreviated forms like 10.1/16
		return nil
	}
}

func (h *tapArgs) check() error {
	if h.devname == "" || len(h.devname) > 15 {
		return errorf("DEVNAME %q must have 1 to 15 characters", h.devname)
	}
	if h.burst < 1 {
		return errorf("BURST must be >= 1")
	}
	if h.mtu < 0 || h.mtu > 65535-14 {
		return errorf("MTU %d out of range", h.mtu)
	}
	if h.addr.IsValid() && !h.addr.Addr().Is4() {
		return errorf("DST must be an IPv4 address/mask")
	}
	return nil
}

func (h *tapArgs) acquire() (*rings.TAP, func(), error) {
	return rings.AcquireTAP(h.devname, rings.TAPOptions{Addr: h.addr, Ether: h.ether, MTU: h.mtu})
}

var tapArgDocs = []core.Item{
	{Name: "DEVNAME", Text: "string: TAP device name (created if missing, brought up)"},
	{Name: "DST", Text: "IPv4 address/mask: address of the kernel side (when flowbox creates the device)"},
	{Name: "ETHER", Text: "Ethernet address of the kernel side (when flowbox creates the device)"},
	{Name: "MTU", Text: "integer: device MTU (default 1500)"},
	{Name: "BURST", Text: "integer >= 1: frames per task run (default 64)"},
}

func tapHandlers(t func() *rings.TAP, count, errs *uint64) []core.Handler {
	return append([]core.Handler{
		core.ReadUint("count", count),
		core.ReadUint("errors", errs),
	}, statHandlers(func() (rings.Stats, bool) {
		if tp := t(); tp != nil {
			return tp.Stats(), true
		}
		return rings.Stats{}, false
	}, func() string { return "TAP" }, func() string { return "tap" }, 0)...)
}

var tapHandlerDocs = append([]core.Item{
	{Name: "count", Text: "read: frames this element handled"},
	{Name: "errors", Text: "read: I/O errors (the last one is logged)"},
}, statHandlerDocs...)

// ToHost hands frames to the kernel stack through a TAP device.
type ToHost struct {
	core.Base
	tapArgs
	tap     *rings.TAP
	release func()
	count   uint64
	errors  uint64
	lastErr string
}

// FromHost receives the frames the kernel stack sends on a TAP device.
type FromHost struct {
	core.Base
	tapArgs
	tap     *rings.TAP
	release func()
	out     *core.Output
	batch   packet.Batch
	count   uint64
	errors  uint64
	lastErr string
}

func init() {
	core.Register(core.Class{
		Name: "ToHost", Ports: "1/0", Processing: "h",
		New: func() core.Element { return new(ToHost) },
		Doc: core.Doc{
			Synopsis: "ToHost(DEVNAME [, DST, ETHER, MTU])",
			Summary:  "delivers frames to the kernel stack through a TAP device",
			Description: `Writes every Ethernet frame pushed to it into the TAP device DEVNAME,
so the Linux stack receives it as if it had arrived on DEVNAME: the
"legacy path" of a MultiStack setup, where traffic flowbox does not handle
falls back to the kernel. ToHost and FromHost on the same DEVNAME share
one TAP descriptor; the first one to open it creates the device (with DST
and ETHER when given) and brings it up. Frames longer than MTU+18 or
shorter than 14 bytes, and writes the kernel refuses, are counted and
dropped. TAP has no batch interface: one write(2) per frame.
Needs CAP_NET_ADMIN to create the device.`,
			Ports:    "input 0 (push) takes Ethernet frames for the kernel; no outputs",
			Args:     tapArgDocs,
			Handlers: tapHandlerDocs,
			Example:  "c :: Classifier(12/0806, -); c[0] -> ToHost(fbx0, DST 10.0.0.1/24); c[1] -> ...",
		},
	})
	core.Register(core.Class{
		Name: "FromHost", Ports: "0/1", Processing: "h",
		New: func() core.Element { return new(FromHost) },
		Doc: core.Doc{
			Synopsis: "FromHost(DEVNAME [, DST, ETHER, MTU, BURST])",
			Summary:  "receives the frames the kernel stack sends on a TAP device",
			Description: `Reads the Ethernet frames the Linux stack transmits on the TAP device
DEVNAME (replies, ARP, traffic routed to it) and pushes them on output 0,
up to BURST per task run. The device is created and brought up if
missing (DST sets the kernel side's address/mask, ETHER its MAC). Frames
larger than a packet buffer are counted and dropped. One read(2) per
frame, non-blocking; an idle task reports idle so the runtime backs off.
Needs CAP_NET_ADMIN to create the device.`,
			Ports: "no inputs; output 0 (push) carries frames from the kernel",
			Args:  tapArgDocs,
			Handlers: append(append([]core.Item{}, tapHandlerDocs...),
				core.Item{Name: "reset_counts", Text: "write: zero count and errors"}),
			Example: "FromHost(fbx0, DST 10.0.0.1/24) -> ToDevice(eth0)",
		},
	})
}

// Configure parses the arguments.
func (t *ToHost) Configure(a *core.Args) error {
	t.burst = 64
	if err := a.Parse(t.specs()...); err != nil {
		return err
	}
	return t.check()
}

// Initialize opens (or shares) the TAP device.
func (t *ToHost) Initialize(core.Router) error {
	tp, rel, err := t.acquire()
	if err != nil {
		return err
	}
	t.tap, t.release = tp, rel
	return nil
}

// Push writes the frames into the kernel.
func (t *ToHost) Push(ctx *core.Ctx, _ int, b *packet.Batch) {
	if t.tap == nil {
		t.Drops += uint64(b.N)
		ctx.Pool.FreeBatch(b)
		return
	}
	n, err := t.tap.SendBatch(ctx.Pool, b)
	t.count += uint64(n)
	if err != nil {
		t.errors++
		if s := err.Error(); s != t.lastErr {
			t.lastErr = s
			if r := t.Router(); r != nil {
				r.Logf(t, "%s: write failed: %v", t.devname, err)
			}
		}
	}
}

// TakeState keeps the TAP open across a hot reconfiguration.
func (t *ToHost) TakeState(old core.Element) {
	if o, ok := old.(*ToHost); ok {
		if o.devname == t.devname {
			t.count, t.errors = o.count, o.errors
		}
		if o.release != nil {
			o.release()
			o.release, o.tap = nil, nil
		}
	}
}

// Cleanup releases the TAP.
func (t *ToHost) Cleanup(*core.Ctx) {
	if t.release != nil {
		t.release()
		t.release, t.tap = nil, nil
	}
}

// Handlers lists the counters.
func (t *ToHost) Handlers() []core.Handler {
	return tapHandlers(func() *rings.TAP { return t.tap }, &t.count, &t.errors)
}

// Configure parses the arguments.
func (f *FromHost) Configure(a *core.Args) error {
	f.burst = 64
	if err := a.Parse(f.specs()...); err != nil {
		return err
	}
	if err := f.check(); err != nil {
		return err
	}
	f.ScheduleTask()
	return nil
}

// Initialize opens (or shares) the TAP device.
func (f *FromHost) Initialize(core.Router) error {
	f.out = f.Output(0)
	tp, rel, err := f.acquire()
	if err != nil {
		return err
	}
	f.tap, f.release = tp, rel
	return nil
}

// RunTask reads up to BURST frames from the kernel and pushes them.
func (f *FromHost) RunTask(ctx *core.Ctx) bool {
	if f.tap == nil {
		return false
	}
	got := 0
	for got < f.burst {
		want := min(f.burst-got, packet.MaxBatch)
		n, err := f.tap.RecvBatch(ctx.Pool, &f.batch, want)
		got += n
		f.count += uint64(n)
		f.out.Push(ctx, &f.batch)
		if err != nil {
			f.errors++
			if s := err.Error(); s != f.lastErr {
				f.lastErr = s
				if r := f.Router(); r != nil {
					r.Logf(f, "%s: read failed: %v", f.devname, err)
				}
			}
			break
		}
		if n < want {
			break
		}
	}
	return got > 0
}

// TakeState keeps the TAP open across a hot reconfiguration.
func (f *FromHost) TakeState(old core.Element) {
	if o, ok := old.(*FromHost); ok {
		if o.devname == f.devname {
			f.count, f.errors = o.count, o.errors
		}
		if o.release != nil {
			o.release()
			o.release, o.tap = nil, nil
		}
	}
}

// Cleanup releases the TAP.
func (f *FromHost) Cleanup(ctx *core.Ctx) {
	ctx.Pool.FreeBatch(&f.batch)
	if f.release != nil {
		f.release()
		f.release, f.tap = nil, nil
	}
}

// Handlers lists the counters.
func (f *FromHost) Handlers() []core.Handler {
	return append(tapHandlers(func() *rings.TAP { return f.tap }, &f.count, &f.errors),
		core.Action("reset_counts", func() { f.count, f.errors = 0, 0 }))
}
