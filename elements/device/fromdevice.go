package device

import (
	"strconv"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
	"flowbox/appliance/rings"
)

// FromDevice receives frames from one queue of a network device.
type FromDevice struct {
	core.Base
	devArgs
	heldPort
	sniffer, promisc bool
	snifferSet       bool
	shed             bool
	filter           string
	active           bool

	out     *core.Output
	batch   packet.Batch
	count   uint64
	errors  uint64
	lastErr string
}

func init() {
	core.Register(core.Class{
		Name: "FromDevice", Ports: "0/1", Processing: "h",
		New: func() core.Element { return new(FromDevice) },
		Doc: core.Doc{
			Synopsis: "FromDevice(DEVNAME [, KEYWORDS])",
			Summary:  "receives frames from a network device (AF_PACKET rings or AF_XDP)",
			Description: `Receives Ethernet frames from DEVNAME and pushes them on output 0, up to
BURST per task run, in batches of up to 64. Frames are copied out of the
ring into pooled packets (no allocation per packet) with the Ethernet
header annotation set.

METHOD PACKET uses an AF_PACKET socket with an mmap'd TPACKET_V2 RX ring;
QUEUES > 1 joins a PACKET_FANOUT hash group (declare one FromDevice per
QUEUE, QUEUE 0 .. QUEUES-1), BPF_FILTER attaches a kernel classic-BPF
pre-filter, 802.1Q tags the kernel moved out of the frame are put back,
and a TCP/UDP checksum the kernel left to offload (a local sender on a
veth, tap or bridge: CHECKSUM_PARTIAL, learnt with PACKET_VNET_HDR) is
completed in software. METHOD XDP gets no such hint: in AF_XDP copy mode
those frames keep their unfinished checksum (turn TX checksum offload off
on such senders, e.g. ethtool -K DEV tx off, or use METHOD PACKET).
METHOD XDP uses an AF_XDP socket on NIC queue QUEUE. METHOD AUTO (the
default) uses XDP when it opens and PACKET otherwise; the 'method' and
'mode' handlers say which one is in use.

Under overload, an AF_PACKET reader whose core also runs the kernel's
receive work for DEVNAME livelocks: every offered frame costs the whole
receive path before the full ring drops it, and that work has priority
over this element. SHED true (METHOD PACKET) attaches a small XDP program
to DEVNAME that drops frames at the driver while the ring is more than
3/4 full and stops once it has drained below 1/4 (the switch is a word in
a memory-mapped BPF map: no system call), so the element keeps working at
its capacity and the excess costs almost nothing. That holds for NICs
whose drivers run XDP natively; a veth runs XDP on a copy of each frame,
so there shedding softens the collapse but costs up to ~30% of the peak
rate (docs/benchmarks.md). METHOD XDP needs no shedding: its overload is
dropped at the driver already.

The task polls the ring without blocking; when nothing arrived it reports
idle and the runtime backs off (an idle box does not spin). Frames too
large for a packet buffer, truncated by the ring or shorter than an
Ethernet header are counted (drop_reasons) and dropped.

Errors are found early: a missing interface, missing privileges
(CAP_NET_RAW, CAP_NET_ADMIN, CAP_BPF) or an unknown XDP_MODE fail the
configuration check with one sentence naming the interface. A failure
while running is logged once and counted in 'errors'; the rest of the
graph keeps running.

The device stays open across hot reconfiguration: the new FromDevice of
the same name acquires the same device queue (rings.Acquire), so no frame
is lost to a close/reopen. Options of a kept device (BPF_FILTER, PROMISC,
SNIFFER, SHED) apply when it is first opened.`,
			Ports: "no inputs; output 0 (push) carries received frames",
			Args: append(append([]core.Item{}, devArgDocs...),
				core.Item{Name: "SNIFFER", Text: "boolean: let the kernel stack see the frames too (PACKET default true; false installs an nf_tables ingress drop on DEVNAME); XDP takes frames from the kernel and cannot sniff"},
				core.Item{Name: "PROMISC", Text: "boolean: promiscuous mode while open (default false)"},
				core.Item{Name: "BPF_FILTER", Text: "string: tcpdump-like filter run in the kernel (PACKET), e.g. \"udp port 53 or arp\""},
				core.Item{Name: "SHED", Text: "boolean: PACKET load shedding (default false): attach an XDP program to DEVNAME that drops frames at the driver while the RX ring is more than 3/4 full, until it drains below 1/4, so that overload costs the kernel almost nothing instead of starving this element's core (receive livelock); drops are in shed_drops; needs CAP_BPF and a free XDP hook"},
				core.Item{Name: "ACTIVE", Text: "boolean: receive at all (default true)"},
			),
			Handlers: append([]core.Item{
				{Name: "count", Text: "read: frames this element emitted"},
				{Name: "errors", Text: "read: receive errors (the last one is logged)"},
				{Name: "active", Text: "read/write: ACTIVE"},
				{Name: "reset_counts", Text: "write: zero count and errors"},
			}, statHandlerDocs...),
			Example: "FromDevice(eth0, METHOD PACKET, BURST 64) -> Queue -> ToDevice(eth1)",
		},
	})
}

// Configure parses the arguments and checks the device and privileges.
func (f *FromDevice) Configure(a *core.Args) error {
	f.burst, f.sniffer, f.active = 64, true, true
	specs := append(f.specs(),
		core.Key("SNIFFER", func(v string) error { f.snifferSet = true; return core.Bool(&f.sniffer)(v) }),
		core.Key("PROMISC", core.Bool(&f.promisc)),
		core.Key("BPF_FILTER", core.String(&f.filter)),
		core.Key("SHED", core.Bool(&f.shed)),
		core.Key("ACTIVE", core.Bool(&f.active)),
	)
	if err := a.Parse(specs...); err != nil {
		return err
	}
	f.opt.Sniffer, f.opt.Promisc, f.opt.BPFFilter, f.opt.Shed = f.sniffer, f.promisc, f.filter, f.shed
	if !f.snifferSet && f.method != rings.MethodPacket {
		// XDP cannot sniff: without an explicit SNIFFER, open XDP
		// without it; a PACKET fallback still sniffs (StartRX below).
		f.opt.Sniffer = false
	}
	if m, _ := rings.ParseMethod(f.methodStr); f.shed && m == rings.MethodXDP {
		return errorf("%s: SHED is for METHOD PACKET (METHOD XDP drops overload at the driver by itself): remove SHED or use METHOD PACKET or AUTO", f.ifname)
	}
	if f.filter != "" {
		if _, err := rings.CompileFilter(f.filter); err != nil {
			return errorf("%s: BPF_FILTER %q: %v", f.ifname, f.filter, err)
		}
	}
	if err := f.check(); err != nil {
		return err
	}
	f.ScheduleTask()
	return nil
}

// Initialize opens (or shares) the device queue and starts receiving.
func (f *FromDevice) Initialize(core.Router) error {
	f.out = f.Output(0)
	p, rel, err := rings.Acquire(f.ifname, f.method, f.opt)
	if err != nil {
		return err
	}
	if rs, ok := p.(rings.RXStarter); ok {
		o := f.opt
		o.Sniffer = f.sniffer
		if err := rs.StartRX(o); err != nil {
			rel()
			return err
		}
	}
	f.port, f.release = p, rel
	return nil
}

// RunTask receives up to BURST frames and pushes them downstream.
func (f *FromDevice) RunTask(ctx *core.Ctx) bool {
	if !f.active || f.port == nil {
		return false
	}
	got := 0
	for got < f.burst {
		want := min(f.burst-got, packet.MaxBatch)
		n, err := f.port.RecvBatch(ctx.Pool, &f.batch, want)
		if err != nil {
			f.fail(err)
		}
		if n == 0 {
			f.out.Push(ctx, &f.batch) // anything appended before an error
			break
		}
		got += n
		f.count += uint64(n)
		f.out.Push(ctx, &f.batch)
		if n < want {
			break
		}
	}
	return got > 0
}

func (f *FromDevice) fail(err error) {
	f.errors++
	if s := err.Error(); s != f.lastErr {
		f.lastErr = s
		if r := f.Router(); r != nil {
			r.Logf(f, "%s: receive failed: %v", f.ifname, err)
		}
	}
}

// TakeState keeps the device open across a hot reconfiguration: the old
// element's hold on its device queue is released (this element acquired
// its own in Initialize, so a same-device queue stays open).
func (f *FromDevice) TakeState(old core.Element) {
	o, ok := old.(*FromDevice)
	if !ok {
		return
	}
	if o.ifname == f.ifname {
		f.count, f.errors = o.count, o.errors
	}
	o.dropHold()
}

// Cleanup releases the device queue.
func (f *FromDevice) Cleanup(ctx *core.Ctx) {
	ctx.Pool.FreeBatch(&f.batch)
	f.releasePort()
}

func (f *FromDevice) methodName() string { return f.heldPort.methodName(f.method) }

// Handlers lists the counters, method, mode and queue.
func (f *FromDevice) Handlers() []core.Handler {
	return append([]core.Handler{
		core.ReadUint("count", &f.count),
		core.ReadUint("errors", &f.errors),
		core.ReadWrite("active", func() string { return strconv.FormatBool(f.active) }, func(v string) error {
			b, err := core.ParseBool(v)
			if err == nil {
				f.active = b
			}
			return err
		}),
		core.Action("reset_counts", func() { f.count, f.errors = 0, 0 }),
	}, statHandlers(f.stats, f.methodName, f.modeName, f.opt.Queue)...)
}
