package device

import (
	"flowbox/appliance/core"
	"flowbox/appliance/packet"
	"flowbox/appliance/rings"
)

// ToDevice transmits frames on one queue of a network device.
type ToDevice struct {
	core.Base
	devArgs
	heldPort

	keeper  rings.SendKeeper
	in      *core.Input
	pull    bool
	batch   packet.Batch
	failed  packet.Batch
	count   uint64
	errors  uint64
	lastErr string
}

func init() {
	core.Register(core.Class{
		Name: "ToDevice", Ports: "1/0-2", Processing: "a/h",
		New: func() core.Element { return new(ToDevice) },
		Doc: core.Doc{
			Synopsis: "ToDevice(DEVNAME [, KEYWORDS])",
			Summary:  "transmits frames on a network device (AF_PACKET rings or AF_XDP)",
			Description: `Sends the frames it gets on DEVNAME. Unlike Click's pull-only ToDevice,
the input is agnostic:
  * in push context (FromDevice -> ToDevice) each pushed batch is sent
    at once, with no Queue in between;
  * in pull context (... -> Queue -> ToDevice) ToDevice is a task that
    pulls up to BURST packets per run and sends them.

METHOD PACKET copies the frames into an mmap'd TPACKET_V2 TX ring and
kicks the kernel with one sendto per batch (PACKET_QDISC_BYPASS set).
METHOD XDP uses an AF_XDP socket on NIC queue QUEUE. METHOD AUTO picks
XDP when it opens, else PACKET. A FromDevice and a ToDevice on the same
device, METHOD and QUEUE share one device queue.

Frames longer than the device MTU (plus Ethernet header and one VLAN
tag) or shorter than an Ethernet header, and frames that find the TX ring
full, are not sent: they are counted (tx_drops, drop_reasons) and freed,
or emitted on output 1 when it is connected. When output 0 is connected
the frames that were sent are emitted on it afterwards (else freed).

Configuration errors (missing interface, privileges, unknown XDP_MODE)
are reported at check time in one sentence naming the interface; send
errors while running are logged once and counted in 'errors'.`,
			Ports: "input 0 (agnostic) takes frames to send; optional output 0 (push) gets the frames sent, optional output 1 (push) the frames not sent",
			Args:  devArgDocs,
			Handlers: append([]core.Item{
				{Name: "count", Text: "read: frames this element sent"},
				{Name: "errors", Text: "read: send errors (the last one is logged)"},
				{Name: "reset_counts", Text: "write: zero count and errors"},
			}, statHandlerDocs...),
			Example: "FromDevice(eth0) -> ToDevice(eth1)\nFromDevice(eth0) -> Queue(1024) -> ToDevice(eth1, BURST 64)",
		},
	})
}

// Configure parses the arguments and checks the device and privileges.
func (t *ToDevice) Configure(a *core.Args) error {
	t.burst = 64
	if err := a.Parse(t.specs()...); err != nil {
		return err
	}
	// Sniffing is a receive option (FromDevice's); XDP refuses it.
	t.opt.Sniffer = false
	return t.check()
}

// Initialize opens (or shares) the device queue; in pull context the
// element becomes a task.
func (t *ToDevice) Initialize(core.Router) error {
	t.in = t.Input(0)
	t.pull = t.in.Kind == core.Pull
	if t.pull {
		t.ScheduleTask()
	}
	p, rel, err := rings.Acquire(t.ifname, t.method, t.opt)
	if err != nil {
		return err
	}
	t.port, t.release = p, rel
	t.keeper, _ = p.(rings.SendKeeper)
	return nil
}

// Push sends the batch (push context).
func (t *ToDevice) Push(ctx *core.Ctx, _ int, b *packet.Batch) {
	t.send(ctx, b)
}

// RunTask pulls up to BURST packets and sends them (pull context).
func (t *ToDevice) RunTask(ctx *core.Ctx) bool {
	if !t.pull || t.port == nil {
		return false
	}
	got := 0
	for got < t.burst {
		n := t.in.Pull(ctx, &t.batch, min(t.burst-got, packet.MaxBatch))
		if n == 0 {
			break
		}
		got += n
		t.send(ctx, &t.batch)
	}
	return got > 0
}

func (t *ToDevice) send(ctx *core.Ctx, b *packet.Batch) {
	if b.N == 0 {
		return
	}
	if t.port == nil {
		t.Drops += uint64(b.N)
		ctx.Pool.FreeBatch(b)
		return
	}
	nouts := t.NOutputs()
	var n int
	var err error
	switch {
	case nouts > 0 && t.keeper != nil:
		t.failed.N = 0
		n, err = t.keeper.SendBatchKeep(b, &t.failed)
		t.Output(0).Push(ctx, b) // frees when unconnected
		if nouts > 1 {
			t.Output(1).Push(ctx, &t.failed)
		} else {
			ctx.Pool.FreeBatch(&t.failed)
		}
	case nouts > 0:
		// Ports without SendKeeper: keep clones, assume the first n went.
		t.failed.N = 0
		for i := 0; i < b.N; i++ {
			t.failed.P[i] = ctx.Pool.Clone(b.P[i])
		}
		t.failed.N = b.N
		n, err = t.port.SendBatch(ctx.Pool, b)
		out0 := t.Scratch(0)
		for i := 0; i < t.failed.N; i++ {
			if i < n {
				out0.Append(t.failed.P[i])
			} else if nouts > 1 {
				t.Scratch(1).Append(t.failed.P[i])
			} else {
				ctx.Pool.Free(t.failed.P[i])
			}
		}
		t.failed.Reset()
		t.Flush(ctx)
	default:
		n, err = t.port.SendBatch(ctx.Pool, b)
	}
	b.N = 0
	t.count += uint64(n)
	if err != nil {
		t.errors++
		if s := err.Error(); s != t.lastErr {
			t.lastErr = s
			if r := t.Router(); r != nil {
				r.Logf(t, "%s: send failed: %v", t.ifname, err)
			}
		}
	}
}

// TakeState keeps the device open across a hot reconfiguration.
func (t *ToDevice) TakeState(old core.Element) {
	o, ok := old.(*ToDevice)
	if !ok {
		return
	}
	if o.ifname == t.ifname {
		t.count, t.errors = o.count, o.errors
	}
	o.dropHold()
	o.keeper = nil
}

// Cleanup releases the device queue.
func (t *ToDevice) Cleanup(ctx *core.Ctx) {
	ctx.Pool.FreeBatch(&t.batch)
	t.releasePort()
	t.keeper = nil
}

func (t *ToDevice) methodName() string { return t.heldPort.methodName(t.method) }

// Handlers lists the counters, method, mode and queue.
func (t *ToDevice) Handlers() []core.Handler {
	return append([]core.Handler{
		core.ReadUint("count", &t.count),
		core.ReadUint("errors", &t.errors),
		core.Action("reset_counts", func() { t.count, t.errors = 0, 0 }),
	}, statHandlers(t.stats, t.methodName, t.modeName, t.opt.Queue)...)
}
