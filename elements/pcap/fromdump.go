// Package pcap holds FromDump and ToDump, which read and write pcap and
// pcapng capture files through gopacket/pcapgo.
package pcap

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
	"flowbox/appliance/proto"
)

// maxSnaplen bounds the record size we accept (tcpdump's MAXIMUM_SNAPLEN):
// a corrupt header cannot make the reader allocate gigabytes.
const maxSnaplen = 262144

// Raw-IP link types: LINKTYPE_RAW, DLT_RAW (12 on most systems, 14 on
// OpenBSD) and LINKTYPE_IPV4.
func isRawIP(l layers.LinkType) bool {
	return l == layers.LinkTypeRaw || l == 12 || l == 14 || l == layers.LinkTypeIPv4
}

// recordReader is what pcapgo's Reader and NgReader have in common.
type recordReader interface {
	ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error)
}

// dumpFile is an open capture file.
type dumpFile struct {
	f    *os.File
	rd   recordReader
	link layers.LinkType
}

// openDump opens a pcap (either byte order, micro- or nanosecond, maybe
// gzipped) or pcapng file.
func openDump(name string) (*dumpFile, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	d, err := newDumpReader(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: not a readable pcap or pcapng file: %v", name, err)
	}
	d.f = f
	return d, nil
}

func newDumpReader(r io.Reader) (*dumpFile, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, err := br.Peek(4)
	if err != nil {
		return nil, errors.New("file too short for a header")
	}
	if binary.LittleEndian.Uint32(magic) == 0x0A0D0D0A {
		ng, err := pcapgo.NewNgReader(br, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			return nil, err
		}
		return &dumpFile{rd: ng, link: ng.LinkType()}, nil
	}
	pr, err := pcapgo.NewReader(br)
	if err != nil {
		return nil, err
	}
	if s := pr.Snaplen(); s == 0 || s > maxSnaplen {
		pr.SetSnaplen(maxSnaplen)
	}
	return &dumpFile{rd: pr, link: pr.LinkType()}, nil
}

// FromDump emits the packets of a capture file.
type FromDump struct {
	core.Base
	filename string
	stop     bool
	timing   bool
	forceIP  bool
	active   bool
	endCall  string
	sample   float64
	keepAt   uint64 // keep a record when ctx.Rand() < keepAt (SAMPLE)

	file    *dumpFile
	pending *packet.Packet // read ahead while TIMING waits for it
	done    bool
	started bool
	firstTS int64 // first packet's timestamp and the clock when it left,
	firstAt int64 // for TIMING
	count   uint64
	nonIP   uint64
}

func (d *FromDump) Configure(a *core.Args) error {
	d.active, d.sample = true, 1
	if err := a.Parse(
		core.Pos("FILE", core.String(&d.filename)).Required(),
		core.Key("STOP", core.Bool(&d.stop)),
		core.Key("TIMING", core.Bool(&d.timing)),
		core.Key("SAMPLE", core.Float(&d.sample)),
		core.Key("FORCE_IP", core.Bool(&d.forceIP)),
		core.Key("ACTIVE", core.Bool(&d.active)),
		core.Key("END_CALL", core.Word(&d.endCall)),
	); err != nil {
		return err
	}
	if err := core.Clamp("SAMPLE", d.sample, 0, 1); err != nil {
		return err
	}
	// Keep when Rand() < keepAt. SAMPLE 1 needs the sentinel: 2^64 does
	// not fit a uint64 (the float conversion would wrap).
	d.keepAt = math.MaxUint64
	if d.sample < 1 {
		d.keepAt = uint64(d.sample * (1 << 64))
	}
	f, err := openDump(d.filename)
	if err != nil {
		return fmt.Errorf("FILE: %v", err)
	}
	d.file = f
	return nil
}

// Resolve checks that END_CALL names a write handler.
func (d *FromDump) Resolve(r core.Router) error {
	if d.endCall != "" {
		h, _, _ := strings.Cut(d.endCall, " ")
		if err := core.CheckWriteHandler(r, d, h); err != nil {
			return fmt.Errorf("END_CALL: %w", err)
		}
	}
	return nil
}

func (d *FromDump) Initialize(r core.Router) error {
	if d.NOutputs() > 0 && d.Output(0).Kind == core.Push {
		d.ScheduleTask()
	}
	return nil
}

// LinkType is the capture's link type (ToDump's USE_ENCAP_FROM reads it).
func (d *FromDump) LinkType() layers.LinkType { return d.file.link }

// RunTask emits one batch on output 0.
func (d *FromDump) RunTask(ctx *core.Ctx) bool {
	s := d.Scratch(0)
	n := d.fill(ctx, s, packet.MaxBatch)
	d.Flush(ctx)
	return n > 0
}

// Pull serves output 0 in pull context.
func (d *FromDump) Pull(ctx *core.Ctx, _ int, b *packet.Batch, max int) {
	d.fill(ctx, b, max)
	if d.NOutputs() > 1 {
		d.Output(1).Push(ctx, d.Scratch(1))
	}
}

// fill appends up to max due packets to b and returns how many records it
// consumed.
func (d *FromDump) fill(ctx *core.Ctx, b *packet.Batch, max int) int {
	n := 0
	for n < max && b.N < packet.MaxBatch && d.active && !d.done {
		p := d.next(ctx)
		if p == nil {
			break
		}
		if d.timing && !d.due(ctx, p) {
			d.pending = p
			break
		}
		n++
		if d.forceIP && !d.markIP(p) {
			d.nonIP++
			d.rejectNonIP(ctx, p)
			continue
		}
		d.count++
		b.P[b.N] = p
		b.N++
	}
	return n
}

// next returns the next sampled record as a packet, or nil at the end.
func (d *FromDump) next(ctx *core.Ctx) *packet.Packet {
	if p := d.pending; p != nil {
		d.pending = nil
		return p
	}
	for {
		data, ci, err := d.file.rd.ZeroCopyReadPacketData()
		if err != nil {
			d.finish(err)
			return nil
		}
		if d.keepAt != math.MaxUint64 && ctx.Rand() >= d.keepAt {
			continue
		}
		p := ctx.Pool.NewFrom(data)
		p.Anno.Timestamp = ci.Timestamp.UnixNano()
		if d.file.link == layers.LinkTypeEthernet {
			p.SetMacAt(0)
		}
		return p
	}
}

// due reports whether TIMING lets p leave now: packets keep the spacing
// they were recorded with, starting from the first packet's departure.
func (d *FromDump) due(ctx *core.Ctx, p *packet.Packet) bool {
	if !d.started {
		d.started, d.firstTS, d.firstAt = true, p.Anno.Timestamp, ctx.Now
		return true
	}
	return p.Anno.Timestamp-d.firstTS <= ctx.Now-d.firstAt
}

// markIP sets the IP header annotation (FORCE_IP); false for non-IP.
func (d *FromDump) markIP(p *packet.Packet) bool {
	data := p.Data()
	switch {
	case d.file.link == layers.LinkTypeEthernet:
		if len(data) < proto.EtherHeaderLen+proto.IPv4MinHeaderLen || proto.U16(data, 12) != proto.EtherTypeIPv4 || data[14]>>4 != 4 {
			return false
		}
		p.SetNetworkAt(proto.EtherHeaderLen)
	case isRawIP(d.file.link):
		if len(data) < proto.IPv4MinHeaderLen || data[0]>>4 != 4 {
			return false
		}
		p.SetNetworkAt(0)
	default:
		return false
	}
	return true
}

func (d *FromDump) rejectNonIP(ctx *core.Ctx, p *packet.Packet) {
	if d.NOutputs() > 1 {
		d.Emit(ctx, 1, p)
		return
	}
	d.Drop(ctx, p)
}

// finish handles the end of the file (or a read error, reported as where
// the file became unreadable): STOP and END_CALL fire exactly once.
func (d *FromDump) finish(err error) {
	d.done = true
	r := d.Router()
	if !errors.Is(err, io.EOF) && r != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = errors.New("truncated record")
		}
		r.Logf(d, "%s: stopped after %d packets: %v", d.filename, d.count, err)
	}
	if r == nil {
		return
	}
	if d.stop {
		r.StopperDone(d)
	}
	if d.endCall != "" {
		h, v, _ := strings.Cut(d.endCall, " ")
		if err := r.CallWrite(d, h, strings.TrimSpace(v)); err != nil {
			r.Logf(d, "END_CALL %s: %v", d.endCall, err)
		}
	}
}

func (d *FromDump) Cleanup(ctx *core.Ctx) {
	if d.pending != nil {
		ctx.Pool.Free(d.pending)
		d.pending = nil
	}
	if d.file != nil && d.file.f != nil {
		d.file.f.Close()
		d.file.f = nil
	}
}

func (d *FromDump) Handlers() []core.Handler {
	return []core.Handler{
		core.ReadUint("count", &d.count),
		core.ReadOnly("filename", func() string { return d.filename }),
		core.ReadWrite("active", func() string { return fmt.Sprint(d.active) }, func(v string) error {
			b, err := core.ParseBool(strings.TrimSpace(v))
			if err == nil {
				d.active = b
			}
			return err
		}),
	}
}

func init() {
	core.Register(core.Class{
		Name: "FromDump", Ports: "0/1-2", Processing: "a/ah",
		New: func() core.Element { return new(FromDump) },
		Doc: core.Doc{
			Synopsis: "FromDump(FILE [, STOP, TIMING, SAMPLE, FORCE_IP, ACTIVE, END_CALL])",
			Summary:  "emits the packets of a pcap or pcapng file",
			Description: "Reads FILE, a pcap file (micro- or nanosecond timestamps, either byte order, " +
				"optionally gzip-compressed) or a pcapng file, and emits its packets in batches: as a task " +
				"when output 0 is push, on demand when it is pull. Each packet's timestamp goes to its " +
				"timestamp annotation. Link types Ethernet and raw IP are understood; Ethernet frames get " +
				"the MAC header annotation. Relative names resolve against the working directory; a file " +
				"that cannot be opened or has no valid header is a configuration error.\n\n" +
				"At the end of the file (or at a truncated or corrupt record, which is logged with the " +
				"number of packets read) FromDump stops: with STOP true it tells the router it is done, " +
				"and END_CALL's handler is called, once.",
			Ports: "output 0: the packets (agnostic)\n" +
				"output 1 (optional, push): non-IP packets when FORCE_IP is set (dropped without it)",
			Args: []core.Item{
				{Name: "FILE", Text: "string: the capture file"},
				{Name: "STOP", Text: "boolean, default false: end the run at end of file"},
				{Name: "TIMING", Text: "boolean, default false: emit packets at the pace they were recorded"},
				{Name: "SAMPLE", Text: "real 0-1, default 1: probability of emitting each record"},
				{Name: "FORCE_IP", Text: "boolean, default false: set the IP header annotation (offset 14 for Ethernet, 0 for raw IP); non-IPv4 packets go to output 1 or are dropped"},
				{Name: "ACTIVE", Text: "boolean, default true: whether to emit packets"},
				{Name: "END_CALL", Text: "`ELEMENT.HANDLER [VALUE]`: write handler called at end of file"},
			},
			Handlers: []core.Item{
				{Name: "count", Text: "read: packets emitted"},
				{Name: "filename", Text: "read: the file name"},
				{Name: "active", Text: "read/write: whether the element emits packets"},
			},
			Example: "FromDump(trace.pcap, STOP true, FORCE_IP true) -> CheckIPHeader(14) -> c :: Counter -> Discard;",
		},
	})
}
