package pcap

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"flowbox/appliance/core"
	"flowbox/appliance/lang"
	"flowbox/appliance/packet"
	"flowbox/appliance/runtime"
	"flowbox/elements/elemtest"
)

func TestFromDumpReadsForeignPcapng(t *testing.T) {
	// Written by pcapgo's own NgWriter, not by ToDump.
	path := filepath.Join(t.TempDir(), "ng.pcapng")
	f, _ := os.Create(path)
	w, err := pcapgo.NewNgWriter(f, layers.LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	stamps := []time.Time{time.Unix(100, 1), time.Unix(200, 999_999_999)}
	for i, ts := range stamps {
		fr := frame(i)
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(fr), Length: len(fr)}, fr); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	f.Close()
	got, ts := readBack(t, path)
	if len(got) != 2 || !bytes.Equal(got[1], frame(1)) || ts[0] != stamps[0].UnixNano() || ts[1] != stamps[1].UnixNano() {
		t.Fatalf("got %d packets, timestamps %v", len(got), ts)
	}
}

func TestFromDumpBigEndian(t *testing.T) {
	path := bigEndianPcap(t, [][]byte{frame(0), frame(1)}, []uint32{10, 11}, []uint32{5, 999_999})
	got, ts := readBack(t, path)
	if len(got) != 2 || !bytes.Equal(got[0], frame(0)) || ts[0] != 10*1e9+5000 || ts[1] != 11*1e9+999_999_000 {
		t.Fatalf("got %d packets, timestamps %v", len(got), ts)
	}
}

func TestFromDumpStopAndEndCallOnce(t *testing.T) {
	path := writeDump(t, "s.pcap", "", [][]byte{frame(0), frame(1)}, []int64{1e9, 2e9})
	h := elemtest.New(t, "FromDump", path+", STOP true, END_CALL c.reset now", 0, 1)
	if !h.Elem.Core().IsTask() {
		t.Fatal("push FromDump is not a task")
	}
	runTasks(h)
	for i := 0; i < 5; i++ {
		h.RunTask() // idle calls after EOF must not fire again
	}
	if h.Router.Stoppers != 1 || len(h.Router.Writes) != 1 || h.Router.Writes[0] != "c.reset now" {
		t.Fatalf("stoppers %d, writes %q", h.Router.Stoppers, h.Router.Writes)
	}
	if h.Read("count") != "2" || len(h.Outs[0].Pkts) != 2 {
		t.Fatalf("count %s", h.Read("count"))
	}
	// Without STOP the router is not told.
	h2 := elemtest.New(t, "FromDump", path, 0, 1)
	runTasks(h2)
	if h2.Router.Stoppers != 0 {
		t.Fatal("StopperDone without STOP")
	}
}

func TestFromDumpForceIP(t *testing.T) {
	arp := frame(0)
	arp[12], arp[13] = 0x08, 0x06
	eth := writeDump(t, "e.pcap", "", [][]byte{frame(0), arp, frame(1)}, []int64{1, 2, 3})
	h := elemtest.New(t, "FromDump", eth+", FORCE_IP true", 0, 2)
	runTasks(h)
	if len(h.Outs[0].Pkts) != 2 || len(h.Outs[1].Pkts) != 1 {
		t.Fatalf("out0 %d out1 %d", len(h.Outs[0].Pkts), len(h.Outs[1].Pkts))
	}
	for _, p := range h.Outs[0].Pkts {
		if p.NetworkOffset() != 14 || p.Network()[0] != 0x45 {
			t.Fatalf("IP annotation at %d", p.NetworkOffset())
		}
	}
	raw := writeDump(t, "r.pcap", ", ENCAP IP", [][]byte{frame(0)[14:], {0x60, 0, 0, 0}}, []int64{1, 2})
	h = elemtest.New(t, "FromDump", raw+", FORCE_IP true", 0, 1)
	runTasks(h)
	if len(h.Outs[0].Pkts) != 1 || h.Outs[0].Pkts[0].NetworkOffset() != 0 || h.Elem.Core().Drops != 1 {
		t.Fatalf("raw: %d packets, drops %d", len(h.Outs[0].Pkts), h.Elem.Core().Drops)
	}
	// Without FORCE_IP nothing is annotated or filtered.
	h = elemtest.New(t, "FromDump", eth, 0, 1)
	runTasks(h)
	if len(h.Outs[0].Pkts) != 3 || h.Outs[0].Pkts[0].NetworkOffset() != -1 {
		t.Fatal("FORCE_IP false filtered or annotated")
	}
}

func TestFromDumpTiming(t *testing.T) {
	const t0 = int64(5e18)
	path := writeDump(t, "t.pcap", ", NANO true", [][]byte{frame(0), frame(1), frame(2)},
		[]int64{t0, t0 + 1e9, t0 + 1e9 + 5e8})
	h := elemtest.New(t, "FromDump", path+", TIMING true", 0, 1)
	steps := []struct {
		now  int64
		want int
	}{{1000, 1}, {1000 + 9e8, 1}, {1000 + 1e9, 2}, {1000 + 1e9 + 4e8, 2}, {1000 + 2e9, 3}}
	for _, s := range steps {
		h.Ctx.Now = s.now
		h.RunTask()
		if len(h.Outs[0].Pkts) != s.want {
			t.Fatalf("at %d: %d packets, want %d", s.now, len(h.Outs[0].Pkts), s.want)
		}
	}
}

func TestFromDumpSampleActivePull(t *testing.T) {
	var frames [][]byte
	var ts []int64
	for i := 0; i < 1000; i++ {
		frames, ts = append(frames, frame(i)), append(ts, int64(i+1))
	}
	path := writeDump(t, "many.pcap", "", frames, ts)
	h := elemtest.New(t, "FromDump", path+", SAMPLE 0.25", 0, 1)
	runTasks(h)
	if n := len(h.Outs[0].Pkts); n < 180 || n > 320 {
		t.Fatalf("SAMPLE 0.25 kept %d of 1000", n)
	}
	h = elemtest.New(t, "FromDump", path+", ACTIVE false", 0, 1)
	h.RunTask()
	if len(h.Outs[0].Pkts) != 0 || h.Read("active") != "false" {
		t.Fatal("inactive FromDump emitted")
	}
	if err := h.Write("active", "true"); err != nil {
		t.Fatal(err)
	}
	h.RunTask()
	if len(h.Outs[0].Pkts) != packet.MaxBatch || h.Read("filename") != path {
		t.Fatalf("after activation: %d packets", len(h.Outs[0].Pkts))
	}
	hp, err := elemtest.Build(t, "FromDump", path, elemtest.Options{Outputs: 1, PullOutputs: true})
	if err != nil {
		t.Fatal(err)
	}
	if hp.Elem.Core().IsTask() {
		t.Fatal("pull FromDump scheduled a task")
	}
	if got := hp.Pull(0, 10); len(got) != 10 || !bytes.Equal(got[3].Data(), frame(3)) {
		t.Fatalf("pull gave %d", len(got))
	}
}

func TestFromDumpBadFiles(t *testing.T) {
	dir := t.TempDir()
	good := writeDump(t, "g.pcap", "", [][]byte{frame(0), frame(1), frame(2)}, []int64{1, 2, 3})
	raw, _ := os.ReadFile(good)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o644)
		return p
	}
	cfgErrors := []struct{ file, want string }{
		{filepath.Join(dir, "missing.pcap"), "missing.pcap"},
		{write("empty.pcap", nil), "empty.pcap"},
		{write("garbage.pcap", []byte("this is not a capture file at all")), "garbage.pcap"},
		{write("short.pcap", raw[:10]), "short.pcap"},
	}
	for _, c := range cfgErrors {
		_, err := elemtest.Build(t, "FromDump", c.file, elemtest.Options{Outputs: 1})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("FromDump(%s): %v", c.file, err)
		}
	}
	// A record cut short: the packets before it come out, the cut is
	// logged, and STOP still fires once.
	cut := write("cut.pcap", raw[:len(raw)-10])
	h := elemtest.New(t, "FromDump", cut+", STOP true", 0, 1)
	runTasks(h)
	if len(h.Outs[0].Pkts) != 2 || h.Router.Stoppers != 1 || len(h.Router.Logs) != 1 || !strings.Contains(h.Router.Logs[0], "truncated") {
		t.Fatalf("truncated file: %d packets, stoppers %d, logs %q", len(h.Outs[0].Pkts), h.Router.Stoppers, h.Router.Logs)
	}
	for _, bad := range []string{good + ", SAMPLE 2", good + ", FOO 1"} {
		if _, err := elemtest.Build(t, "FromDump", bad, elemtest.Options{Outputs: 1}); err == nil {
			t.Errorf("config %q accepted", bad)
		}
	}
}

func TestFromDumpAllocatesNothing(t *testing.T) {
	var frames [][]byte
	var ts []int64
	for i := 0; i < 64*60; i++ {
		frames, ts = append(frames, frame(i)), append(ts, int64(i+1))
	}
	for _, name := range []string{"a.pcap", "a.pcapng"} {
		path := writeDump(t, name, "", frames, ts)
		h := elemtest.New(t, "FromDump", path, 0, 1)
		h.Outs[0].Discard = true
		h.RunTask()
		if n := testing.AllocsPerRun(50, func() { h.RunTask() }); n != 0 {
			t.Errorf("%s: %v allocations per batch", name, n)
		}
	}
}

func BenchmarkFromDump(b *testing.B) {
	var frames [][]byte
	var ts []int64
	for i := 0; i < 10000; i++ {
		frames, ts = append(frames, frame(i)), append(ts, int64(i+1))
	}
	path := filepath.Join(b.TempDir(), "bench.pcap")
	w := elemtest.New(b, "ToDump", path, 1, 0)
	for i, f := range frames {
		p := w.Packet(f)
		p.Anno.Timestamp = ts[i]
		w.PushPackets(0, p)
	}
	w.Elem.(core.Cleaner).Cleanup(w.Ctx)
	var h *elemtest.Harness
	for b.Loop() {
		if h == nil || !h.RunTask() {
			h = elemtest.New(b, "FromDump", path, 0, 1)
			h.Outs[0].Discard = true
		}
	}
}

// FuzzFromDump feeds arbitrary bytes as a classic pcap file (the header
// is kept valid half the time so records get parsed): it must end with a
// configuration error or a clean stop, never a panic.
func FuzzFromDump(f *testing.F) {
	hdr := []byte{0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0}
	rec := []byte{1, 0, 0, 0, 2, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 1, 2, 3, 4}
	f.Add(append(append([]byte(nil), hdr...), rec...), true)
	f.Add(append(append([]byte(nil), hdr...), 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 0x7f), true)
	f.Add([]byte{0x4d, 0x3c, 0xb2, 0xa1, 2, 0, 4, 0}, false)
	f.Add([]byte{0xa1, 0xb2, 0xc3, 0xd4, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0, 0, 0, 0xff, 0, 0, 0}, false)
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte, keepHeader bool) {
		if keepHeader {
			data = append(append([]byte(nil), hdr...), data...)
		}
		if len(data) >= 4 && bytes.Equal(data[:4], []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
			return // pcapng: pcapgo sizes its buffer from the block header (see report)
		}
		path := filepath.Join(dir, "fuzz.pcap")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		h, err := elemtest.Build(t, "FromDump", path+", STOP true, FORCE_IP true", elemtest.Options{Outputs: 2})
		if err != nil {
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		runTasks(h)
		if h.Router.Stoppers != 1 {
			t.Fatalf("StopperDone called %d times", h.Router.Stoppers)
		}
		h.Elem.(core.Cleaner).Cleanup(h.Ctx)
	})
}

// END_CALL naming a missing handler is a configuration error reported at
// initialization (Click's HandlerCall), not a log line at end of file.
func TestFromDumpEndCallChecked(t *testing.T) {
	path := writeDump(t, "e.pcap", "", [][]byte{frame(0)}, []int64{1e9})
	out := filepath.Join(t.TempDir(), "out.pcap")
	build := func(endCall string) error {
		conf := "FromDump(" + path + ", END_CALL " + endCall + ") -> t :: ToDump(" + out + ")"
		g, err := lang.Parse("test.click", []byte(conf), lang.Options{IsClass: func(s string) bool { return core.Lookup(s) != nil }})
		if err != nil {
			t.Fatal(err)
		}
		_, err = runtime.Build(g, runtime.BuildOptions{Threads: 1})
		return err
	}
	if err := build("nosuch.x"); err == nil || !strings.Contains(err.Error(), "END_CALL: No element named 'nosuch'") {
		t.Errorf("error %v, want END_CALL: No element named 'nosuch'", err)
	}
	if err := build("t.count"); err == nil || !strings.Contains(err.Error(), "not writable") {
		t.Errorf("error %v, want not writable", err)
	}
	if err := build("stop"); err != nil {
		t.Error(err)
	}
}
