package pcap

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
)

// recordWriter is what pcapgo's Writer and NgWriter have in common.
type recordWriter interface {
	WritePacket(ci gopacket.CaptureInfo, data []byte) error
}

// ToDump writes the packets it sees to a pcap or pcapng file.
type ToDump struct {
	core.Base
	filename     string
	snaplen      int
	encap        string
	nano         bool
	useEncapFrom string

	f      *os.File
	bw     *bufio.Writer
	ng     *pcapgo.NgWriter // pcapng keeps its own buffer
	w      recordWriter
	link   layers.LinkType
	count  uint64
	failed bool
	tmp    packet.Batch // pull-task batch (no outputs, so no scratch)
}

func (d *ToDump) Configure(a *core.Args) error {
	d.snaplen, d.encap = 65535, "ETHER"
	if err := a.Parse(
		core.Pos("FILE", core.String(&d.filename)).Required(),
		core.Key("SNAPLEN", core.Int(&d.snaplen)),
		core.Key("ENCAP", core.Word(&d.encap)),
		core.Key("NANO", core.Bool(&d.nano)),
		core.Key("USE_ENCAP_FROM", core.Word(&d.useEncapFrom)),
	); err != nil {
		return err
	}
	if d.snaplen <= 0 || d.snaplen > maxSnaplen {
		return fmt.Errorf("SNAPLEN: must be between 1 and %d", maxSnaplen)
	}
	link, err := encapLinkType(d.encap)
	if err != nil {
		return err
	}
	d.link = link
	return nil
}

func encapLinkType(s string) (layers.LinkType, error) {
	switch strings.ToUpper(s) {
	case "ETHER", "ETHERNET":
		return layers.LinkTypeEthernet, nil
	case "IP", "RAW":
		return layers.LinkTypeRaw, nil
	}
	return 0, fmt.Errorf("ENCAP: expected ETHER or IP, got %q", s)
}

// Initialize creates the file (not Configure: `flowbox check` must not
// touch the file system), resolves USE_ENCAP_FROM and writes the header.
// Resolve takes the link type from the USE_ENCAP_FROM elements (before
// Initialize creates the file, and under flowbox check).
func (d *ToDump) Resolve(r core.Router) error {
	if d.useEncapFrom == "" {
		return nil
	}
	link, err := d.encapFrom(r)
	if err != nil {
		return err
	}
	d.link = link
	return nil
}

func (d *ToDump) Initialize(r core.Router) error {
	f, err := os.Create(d.filename)
	if err != nil {
		return fmt.Errorf("FILE: %v", err)
	}
	d.f = f
	if d.Input(0).Kind == core.Pull && d.NOutputs() == 0 {
		d.ScheduleTask()
	}
	return d.openWriter()
}

// encapFrom takes the link type of the FromDump elements named by
// USE_ENCAP_FROM (space-separated); they must agree.
func (d *ToDump) encapFrom(r core.Router) (layers.LinkType, error) {
	var link layers.LinkType
	for i, name := range strings.Fields(d.useEncapFrom) {
		src, ok := r.Find(d, name).(*FromDump)
		if !ok {
			return 0, fmt.Errorf("USE_ENCAP_FROM: %q is not a FromDump element", name)
		}
		if i > 0 && src.LinkType() != link {
			return 0, errors.New("USE_ENCAP_FROM: the elements have different link types")
		}
		link = src.LinkType()
	}
	return link, nil
}

func (d *ToDump) openWriter() error {
	if strings.HasSuffix(strings.ToLower(d.filename), ".pcapng") {
		ng, err := pcapgo.NewNgWriter(d.f, d.link)
		if err != nil {
			return fmt.Errorf("%s: %v", d.filename, err)
		}
		d.ng, d.w = ng, ng
		return nil
	}
	d.bw = bufio.NewWriterSize(d.f, 64<<10)
	w := pcapgo.NewWriter(d.bw)
	if d.nano {
		w = pcapgo.NewWriterNanos(d.bw)
	}
	if err := w.WriteFileHeader(uint32(d.snaplen), d.link); err != nil {
		return fmt.Errorf("%s: %v", d.filename, err)
	}
	d.w = w
	return nil
}

// write records a batch's packets.
func (d *ToDump) write(ctx *core.Ctx, ps []*packet.Packet) {
	if d.w == nil || d.failed {
		return
	}
	for _, p := range ps {
		data := p.Data()
		ci := gopacket.CaptureInfo{Length: len(data), CaptureLength: min(len(data), d.snaplen)}
		ts := p.Anno.Timestamp
		if ts == 0 {
			ts = ctx.Now
		}
		ci.Timestamp = time.Unix(0, ts)
		if err := d.w.WritePacket(ci, data[:ci.CaptureLength]); err != nil {
			d.fail(err)
			return
		}
		d.count++
	}
}

// fail logs the first write error; later packets are not written.
func (d *ToDump) fail(err error) {
	d.failed = true
	if r := d.Router(); r != nil {
		r.Logf(d, "%s: write error, no more packets recorded: %v", d.filename, err)
	}
}

func (d *ToDump) Push(ctx *core.Ctx, _ int, b *packet.Batch) {
	d.write(ctx, b.P[:b.N])
	if d.NOutputs() > 0 {
		d.Output(0).Push(ctx, b)
		return
	}
	ctx.Pool.FreeBatch(b)
}

func (d *ToDump) Pull(ctx *core.Ctx, _ int, b *packet.Batch, max int) {
	n0 := b.N
	d.Input(0).Pull(ctx, b, max)
	d.write(ctx, b.P[n0:b.N])
}

// RunTask pulls and records a batch when ToDump is a pull sink.
func (d *ToDump) RunTask(ctx *core.Ctx) bool {
	t := &d.tmp
	if d.Input(0).Pull(ctx, t, packet.MaxBatch) == 0 {
		return false
	}
	d.write(ctx, t.P[:t.N])
	ctx.Pool.FreeBatch(t)
	return true
}

// Cleanup flushes the buffered records and closes the file.
func (d *ToDump) Cleanup(ctx *core.Ctx) {
	var err error
	switch {
	case d.ng != nil:
		err = d.ng.Flush()
	case d.bw != nil:
		err = d.bw.Flush()
	}
	if err != nil && !d.failed {
		d.fail(err)
	}
	if d.f != nil {
		d.f.Close()
		d.f = nil
	}
	d.w, d.ng, d.bw = nil, nil, nil
}

func (d *ToDump) Handlers() []core.Handler {
	return []core.Handler{
		core.ReadUint("count", &d.count),
		core.ReadOnly("filename", func() string { return d.filename }),
	}
}

func init() {
	core.Register(core.Class{
		Name: "ToDump", Ports: "1/0-1", Processing: "a/a",
		New: func() core.Element { return new(ToDump) },
		Doc: core.Doc{
			Synopsis: "ToDump(FILE [, SNAPLEN, ENCAP, NANO, USE_ENCAP_FROM])",
			Summary:  "writes packets to a pcap or pcapng file",
			Description: "Records every packet it sees in FILE, a pcap file, or a pcapng file when the name " +
				"ends in .pcapng, then passes the packet on through output 0 if there is one. Each record's " +
				"time is the packet's timestamp annotation (the scheduler's clock when unset); at most " +
				"SNAPLEN bytes of each packet are written, with its full length recorded. Records go " +
				"through a buffered writer that Cleanup flushes at the end of the run. In pull context " +
				"without an output ToDump is a task that pulls packets. Relative names resolve against the " +
				"working directory; a file that cannot be created is a configuration error, and the first " +
				"write error is logged (later packets pass through unrecorded).",
			Ports: "input 0: packets (agnostic)\noutput 0 (optional): the same packets",
			Args: []core.Item{
				{Name: "FILE", Text: "string: the file to write (.pcapng selects pcapng)"},
				{Name: "SNAPLEN", Text: "integer, default 65535: bytes recorded per packet"},
				{Name: "ENCAP", Text: "ETHER (default) or IP: the file's link type"},
				{Name: "NANO", Text: "boolean, default false: nanosecond pcap (magic a1b23c4d) instead of microsecond"},
				{Name: "USE_ENCAP_FROM", Text: "FromDump element names: take the link type from their files"},
			},
			Handlers: []core.Item{
				{Name: "count", Text: "read: packets recorded"},
				{Name: "filename", Text: "read: the file name"},
			},
			Example: "FromDevice(eth0) -> ToDump(capture.pcap, SNAPLEN 96) -> Discard;",
		},
	})
}
