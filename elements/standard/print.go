package standard

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
)

// What Print shows of each packet's data.
const (
	contentsNone = iota
	contentsHex
	contentsASCII
)

// Print writes a line per packet: label, length and the first bytes.
type Print struct {
	core.Base
	label     string
	maxLength int
	contents  int
	timestamp bool
	active    bool
	w         io.Writer
	line      []byte // reused output buffer: one Write per batch
}

func init() {
	core.Register(core.Class{
		Name: "Print", Ports: "1/1", Processing: "a/a",
		New: func() core.Element { return new(Print) },
		Doc: core.Doc{
			Synopsis: "Print([LABEL, MAXLENGTH, KEYWORDS])",
			Summary:  "prints packet contents",
			Description: `Passes packets unchanged and prints one line for each to standard error:

    LABEL: LEN | xxxxxxxx xxxxxxxx ...

LEN is the packet length (printf "%4d"); then up to MAXLENGTH bytes of
data in hex, in groups of 4 bytes (CONTENTS ASCII prints characters in
groups of 8, non-printable ones as '.'; CONTENTS NONE prints no data).
With TIMESTAMP true the timestamp annotation (seconds.nanoseconds)
follows the label. Without a label the line starts with the length.
The lines of one batch are written with a single write.`,
			Ports: "input 0 -> output 0, agnostic",
			Args: []core.Item{
				{Name: "LABEL", Text: "string: line prefix (default none)"},
				{Name: "MAXLENGTH", Text: "integer: bytes of data shown, -1 = all (default 24; alias NBYTES)"},
				{Name: "CONTENTS", Text: "NONE, HEX or ASCII (default HEX)"},
				{Name: "TIMESTAMP", Text: "boolean: print the timestamp annotation (default false)"},
				{Name: "ACTIVE", Text: "boolean: print at all (default true)"},
			},
			Handlers: []core.Item{
				{Name: "active", Text: "read/write: ACTIVE"},
				{Name: "label", Text: "read: LABEL"},
			},
			Example: "FromDevice(eth0) -> Print(in, 64) -> Discard",
		},
	})
}

// SetWriter redirects the output (tests; default os.Stderr).
func (e *Print) SetWriter(w io.Writer) { e.w = w }

func (e *Print) Configure(a *core.Args) error {
	e.maxLength, e.contents, e.active, e.w = 24, contentsHex, true, os.Stderr
	var contents string
	err := a.Parse(
		core.Pos("LABEL", core.String(&e.label)),
		core.Pos("MAXLENGTH", core.Int(&e.maxLength)),
		core.Key("NBYTES", core.Int(&e.maxLength)),
		core.Key("CONTENTS", core.Word(&contents)),
		core.Key("TIMESTAMP", core.Bool(&e.timestamp)),
		core.Key("ACTIVE", core.Bool(&e.active)),
	)
	if err != nil {
		return err
	}
	return e.setContents(contents)
}

func (e *Print) setContents(s string) error {
	switch strings.ToUpper(s) {
	case "", "HEX", "TRUE":
		e.contents = contentsHex
	case "ASCII":
		e.contents = contentsASCII
	case "NONE", "FALSE":
		e.contents = contentsNone
	default:
		return fmt.Errorf("CONTENTS: expected NONE, HEX or ASCII, got %q", s)
	}
	return nil
}

func (e *Print) Process(_ *core.Ctx, b *packet.Batch) {
	if !e.active || b.N == 0 {
		return
	}
	line := e.line[:0]
	for _, p := range b.P[:b.N] {
		line = e.appendLine(line, p)
	}
	e.line = line
	_, _ = e.w.Write(line) // like Click, a failed diagnostic write is ignored
}

func (e *Print) appendLine(dst []byte, p *packet.Packet) []byte {
	if e.label != "" {
		dst = append(append(dst, e.label...), ": "...)
	}
	if e.timestamp {
		dst = appendTimestamp(dst, p.Anno.Timestamp)
		dst = append(dst, ": "...)
	}
	dst = appendPadded(dst, p.Len(), 4)
	data := p.Data()
	if e.maxLength >= 0 && len(data) > e.maxLength {
		data = data[:e.maxLength]
	}
	switch e.contents {
	case contentsHex:
		dst = appendHexGroups(append(dst, " | "...), data)
	case contentsASCII:
		dst = appendASCIIGroups(append(dst, " | "...), data)
	}
	return append(dst, '\n')
}

// appendPadded is printf("%*d", width, v) without fmt's allocations.
func appendPadded(dst []byte, v, width int) []byte {
	var tmp [20]byte
	s := strconv.AppendInt(tmp[:0], int64(v), 10)
	for i := len(s); i < width; i++ {
		dst = append(dst, ' ')
	}
	return append(dst, s...)
}

func appendTimestamp(dst []byte, ns int64) []byte {
	dst = strconv.AppendInt(dst, ns/1e9, 10)
	dst = append(dst, '.')
	frac := ns % 1e9
	for div := int64(1e8); div > 0; div /= 10 {
		dst = append(dst, byte('0'+frac/div%10))
	}
	return dst
}

const hexDigits = "0123456789abcdef"

// appendHexGroups prints data as hex, a space every 4 bytes (Click's format).
func appendHexGroups(dst, data []byte) []byte {
	for i, c := range data {
		if i > 0 && i%4 == 0 {
			dst = append(dst, ' ')
		}
		dst = append(dst, hexDigits[c>>4], hexDigits[c&15])
	}
	return dst
}

// appendASCIIGroups prints printable bytes as is and others as '.', with a
// space every 8 bytes (Click's format).
func appendASCIIGroups(dst, data []byte) []byte {
	for i, c := range data {
		if i > 0 && i%8 == 0 {
			dst = append(dst, ' ')
		}
		if c < 32 || c > 126 {
			c = '.'
		}
		dst = append(dst, c)
	}
	return dst
}

func (e *Print) Handlers() []core.Handler {
	return []core.Handler{
		rwBool("active", &e.active),
		core.ReadOnly("label", func() string { return e.label }),
	}
}
