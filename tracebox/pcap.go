package tracebox

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// Recorder writes packets (L3, LINKTYPE_RAW) to a pcap file.
type Recorder struct {
	mu sync.Mutex
	f  *os.File
	w  *pcapgo.Writer
}

// NewRecorder creates (truncates) a pcap file.
func NewRecorder(path string) (*Recorder, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65536, layers.LinkTypeRaw); err != nil {
		f.Close()
		return nil, err
	}
	return &Recorder{f: f, w: w}, nil
}

func (r *Recorder) write(b []byte, t time.Time) {
	if r == nil {
		return
	}
	_ = r.Write(b, t)
}

// Write appends one L3 packet.
func (r *Recorder) Write(b []byte, t time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.w.WritePacket(gopacket.CaptureInfo{Timestamp: t, CaptureLength: len(b), Length: len(b)}, b)
}

// Close closes the file.
func (r *Recorder) Close() error {
	if r == nil {
		return nil
	}
	return r.f.Close()
}

// OfflineSrc4 and OfflineSrc6 are the faked source addresses of the offline
// mode (as in tracebox).
var (
	OfflineSrc4 = netip.MustParseAddr("1.1.1.1")
	OfflineSrc6 = netip.MustParseAddr("dead::beef")
)

// pcapTransport is the offline mode "pcap:OUT:IN": probes are written to
// OUT, replies are read in order from IN.
//
// IN may be a replies-only capture (each probe takes the next packets until
// one matches) or a capture that also holds the probes, such as one written
// by -f: a packet travelling in the probe's direction (same source and
// destination as the probe just sent) marks the start of that probe's slot,
// and the replies of the slot are the packets up to the next such record;
// a slot without a matching reply is a silent hop. IN may be a FIFO.
type pcapTransport struct {
	out     *Recorder
	in      io.Closer
	pkts    chan inPkt
	done    chan struct{}
	pending *inPkt
	sent    []byte // last probe (L3)
	fresh   bool   // no IN packet consumed since the last Send
	eof     bool
}

type inPkt struct {
	b  []byte
	ts time.Time
}

// OpenPcapTransport opens "pcap:OUT:IN".
func OpenPcapTransport(spec string) (Transport, error) {
	parts := strings.SplitN(strings.TrimPrefix(spec, "pcap:"), ":", 2)
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return nil, fmt.Errorf("tracebox: offline mode wants pcap:OUT:IN, got %q", spec)
	}
	// A missing or unreadable IN must not leave an OUT behind (nor
	// truncate an existing one). A regular IN is opened first; a FIFO is
	// opened after OUT, as opening it blocks until its writer comes, which
	// may itself wait for OUT (a peer that reads the probes first).
	outPath, inPath := parts[0], parts[1]
	st, err := os.Stat(inPath)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, fmt.Errorf("tracebox: offline input %s is a directory", inPath)
	}
	var f *os.File
	if st.Mode().IsRegular() {
		if f, err = os.Open(inPath); err != nil {
			return nil, err
		}
	}
	_, statErr := os.Lstat(outPath)
	outExisted := statErr == nil
	out, err := NewRecorder(outPath)
	if err != nil {
		if f != nil {
			f.Close()
		}
		return nil, err
	}
	if f == nil {
		if f, err = os.Open(inPath); err != nil {
			out.Close()
			if !outExisted {
				os.Remove(outPath)
			}
			return nil, err
		}
	}
	t := &pcapTransport{out: out, in: f, pkts: make(chan inPkt, 64), done: make(chan struct{})}
	go readPcap(f, t.pkts, t.done)
	return t, nil
}

func readPcap(f io.Reader, ch chan<- inPkt, done <-chan struct{}) {
	defer close(ch)
	r, err := pcapgo.NewReader(f)
	if err != nil {
		return
	}
	lt := r.LinkType()
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			return
		}
		if b := stripLink(lt, data); b != nil {
			select {
			case ch <- inPkt{b: append([]byte(nil), b...), ts: ci.Timestamp}:
			case <-done:
				return
			}
		}
	}
}

// stripLink returns the L3 part of a captured frame.
func stripLink(lt layers.LinkType, d []byte) []byte {
	switch lt {
	case layers.LinkTypeRaw, layers.LinkTypeIPv4, layers.LinkTypeIPv6, 12:
		return d
	case layers.LinkTypeEthernet:
		if len(d) < 14 {
			return nil
		}
		et, off := be16(d[12:]), 14
		for (et == 0x8100 || et == 0x88a8) && len(d) >= off+4 {
			et, off = be16(d[off+2:]), off+4
		}
		if et != 0x0800 && et != 0x86dd {
			return nil
		}
		return d[off:]
	case layers.LinkTypeLinuxSLL:
		if len(d) < 16 {
			return nil
		}
		return d[16:]
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		if len(d) < 4 {
			return nil
		}
		return d[4:]
	}
	return nil
}

func (t *pcapTransport) Source(v6 bool) netip.Addr {
	if v6 {
		return OfflineSrc6
	}
	return OfflineSrc4
}

func (t *pcapTransport) Send(b []byte) (time.Time, error) {
	now := time.Now()
	t.sent = append(t.sent[:0], b...)
	t.fresh = true
	return now, t.out.Write(b, now)
}

func (t *pcapTransport) next(deadline time.Time) (*inPkt, error) {
	if t.pending != nil {
		p := t.pending
		t.pending = nil
		return p, nil
	}
	if t.eof {
		return nil, ErrTimeout
	}
	d := time.Until(deadline)
	if d <= 0 {
		d = time.Millisecond
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case p, ok := <-t.pkts:
		if !ok {
			t.eof = true
			return nil, ErrTimeout
		}
		return &p, nil
	case <-tm.C:
		return nil, ErrTimeout
	}
}

// isForward reports whether b travels like the last probe (a probe record).
func (t *pcapTransport) isForward(b []byte) bool {
	if len(b) < 20 || len(t.sent) < 20 || b[0]>>4 != t.sent[0]>>4 {
		return false
	}
	if b[0]>>4 == 4 {
		return string(b[12:20]) == string(t.sent[12:20])
	}
	return len(b) >= 40 && len(t.sent) >= 40 && string(b[8:40]) == string(t.sent[8:40])
}

func (t *pcapTransport) Recv(deadline time.Time) ([]byte, time.Time, error) {
	for {
		p, err := t.next(deadline)
		if err != nil {
			return nil, time.Time{}, err
		}
		if t.isForward(p.b) {
			if t.fresh {
				t.fresh = false // this slot's probe record
				continue
			}
			t.pending = p // next slot's record
			return nil, time.Time{}, ErrTimeout
		}
		t.fresh = false
		return p.b, time.Now(), nil
	}
}

func (t *pcapTransport) Close() error {
	close(t.done)
	err := t.out.Close()
	if e := t.in.Close(); err == nil {
		err = e
	}
	return err
}

// ErrNoReply is returned by SendRecv when nothing matched.
var ErrNoReply = errors.New("tracebox: no reply")
