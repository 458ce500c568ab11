package pcap

import (
	"bytes"
	"encoding/binary"
	"os"
	"strings"
	"testing"

	"github.com/google/gopacket/pcapgo"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
	"flowbox/elements/elemtest"
)

// readBack reads a dump with FromDump and returns data and timestamps.
func readBack(t *testing.T, path string) ([][]byte, []int64) {
	t.Helper()
	h := elemtest.New(t, "FromDump", path, 0, 1)
	runTasks(h)
	var ts []int64
	for _, p := range h.Outs[0].Pkts {
		ts = append(ts, p.Anno.Timestamp)
	}
	return h.Outs[0].Data(), ts
}

func TestRoundTrip(t *testing.T) {
	var frames [][]byte
	var ts []int64
	for i := 0; i < 150; i++ { // more than two batches
		frames = append(frames, frame(i))
		ts = append(ts, 1_700_000_000_000_000_000+int64(i)*1_234_567_891)
	}
	cases := []struct {
		name, file, extra string
		magic             []byte
		precision         int64
	}{
		{"pcap micro", "a.pcap", "", []byte{0xd4, 0xc3, 0xb2, 0xa1}, 1000},
		{"pcap nano", "a.pcap", ", NANO true", []byte{0x4d, 0x3c, 0xb2, 0xa1}, 1},
		{"pcapng", "a.pcapng", "", []byte{0x0a, 0x0d, 0x0d, 0x0a}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeDump(t, c.file, c.extra, frames, ts)
			raw, _ := os.ReadFile(path)
			if !bytes.HasPrefix(raw, c.magic) {
				t.Fatalf("file starts % x, want % x", raw[:4], c.magic)
			}
			got, gotTS := readBack(t, path)
			if len(got) != len(frames) {
				t.Fatalf("read %d packets, wrote %d", len(got), len(frames))
			}
			for i := range frames {
				if !bytes.Equal(got[i], frames[i]) {
					t.Fatalf("packet %d differs", i)
				}
				if want := ts[i] / c.precision * c.precision; gotTS[i] != want {
					t.Fatalf("packet %d timestamp %d, want %d", i, gotTS[i], want)
				}
			}
		})
	}
}

func TestToDumpSnaplenEncapAndPassThrough(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir) // relative names resolve against the working directory
	h := elemtest.New(t, "ToDump", "rel.pcap, SNAPLEN 20, ENCAP IP", 1, 1)
	h.Push(0, frame(0), frame(1))
	if len(h.Outs[0].Pkts) != 2 || h.Read("count") != "2" || h.Read("filename") != "rel.pcap" {
		t.Fatalf("pass-through %d, count %s", len(h.Outs[0].Pkts), h.Read("count"))
	}
	h.Elem.(core.Cleaner).Cleanup(h.Ctx)
	f, err := os.Open(dir + "/rel.pcap")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if r.LinkType() != 101 || r.Snaplen() != 20 {
		t.Fatalf("link %d snaplen %d", r.LinkType(), r.Snaplen())
	}
	data, ci, err := r.ReadPacketData()
	if err != nil || !bytes.Equal(data, frame(0)[:20]) || ci.Length != len(frame(0)) {
		t.Fatalf("record: %v caplen %d len %d", err, len(data), ci.Length)
	}
}

func TestToDumpConfigErrors(t *testing.T) {
	cases := []struct{ config, want string }{
		{"/nonexistent-dir/x.pcap", "/nonexistent-dir/x.pcap"},
		{t.TempDir() + "/x.pcap, ENCAP FDDI", "ENCAP"},
		{t.TempDir() + "/x.pcap, SNAPLEN 0", "SNAPLEN"},
		{t.TempDir() + "/x.pcap, USE_ENCAP_FROM nobody", "nobody"},
	}
	for _, c := range cases {
		_, err := elemtest.Build(t, "ToDump", c.config, elemtest.Options{Inputs: 1})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ToDump(%s): %v, want mention of %q", c.config, err, c.want)
		}
	}
}

func TestToDumpUseEncapFrom(t *testing.T) {
	// A raw-IP source file: ToDump copies its link type.
	src := writeDump(t, "raw.pcap", ", ENCAP IP", [][]byte{frame(0)[14:]}, []int64{1e9})
	fd, err := elemtest.Build(t, "FromDump", src, elemtest.Options{Outputs: 1, Name: "fd"})
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir() + "/copy.pcap"
	td := core.Lookup("ToDump").New()
	td.Core().Setup("td", "ToDump", out+", USE_ENCAP_FROM fd", "test:1:1", 1, 0)
	td.Core().Input(0).Kind = core.Push
	if err := td.(core.Configurer).Configure(core.NewArgs(out + ", USE_ENCAP_FROM fd")); err != nil {
		t.Fatal(err)
	}
	td.Core().SetRouter(fd.Router)
	if err := td.(core.Resolver).Resolve(fd.Router); err != nil {
		t.Fatal(err)
	}
	if err := td.(core.Initializer).Initialize(fd.Router); err != nil {
		t.Fatal(err)
	}
	td.(core.Cleaner).Cleanup(fd.Ctx)
	raw, _ := os.ReadFile(out)
	if len(raw) < 24 || binary.LittleEndian.Uint32(raw[20:]) != 101 {
		t.Fatalf("link type not taken from FromDump: % x", raw)
	}
}

func TestToDumpPullSinkTask(t *testing.T) {
	path := t.TempDir() + "/pull.pcap"
	h, err := elemtest.Build(t, "ToDump", path, elemtest.Options{Inputs: 1, PullInputs: true})
	if err != nil {
		t.Fatal(err)
	}
	if !h.Elem.Core().IsTask() {
		t.Fatal("pull sink is not a task")
	}
	for i := 0; i < 3; i++ {
		h.Srcs[0].Queue = append(h.Srcs[0].Queue, h.Packet(frame(i)))
	}
	runTasks(h)
	h.Elem.(core.Cleaner).Cleanup(h.Ctx)
	if got, _ := readBack(t, path); len(got) != 3 {
		t.Fatalf("recorded %d packets, want 3", len(got))
	}
}

func TestToDumpAllocatesNothing(t *testing.T) {
	for _, name := range []string{"x.pcap", "x.pcapng"} {
		h := elemtest.New(t, "ToDump", t.TempDir()+"/"+name, 1, 0)
		f := frame(3)
		var b packet.Batch
		push := core.AsPusher(h.Elem)
		run := func() {
			for i := 0; i < packet.MaxBatch; i++ {
				p := h.Ctx.Pool.NewFrom(f)
				p.Anno.Timestamp = 1e18
				b.Append(p)
			}
			push.Push(h.Ctx, 0, &b)
		}
		run()
		if n := testing.AllocsPerRun(50, run); n != 0 {
			t.Errorf("%s: %v allocations per batch", name, n)
		}
		h.Elem.(core.Cleaner).Cleanup(h.Ctx)
	}
}

func BenchmarkToDump(b *testing.B) {
	h := elemtest.New(b, "ToDump", b.TempDir()+"/bench.pcap", 1, 0)
	f := frame(3)
	var batch packet.Batch
	push := core.AsPusher(h.Elem)
	for b.Loop() {
		for i := 0; i < packet.MaxBatch; i++ {
			batch.Append(h.Ctx.Pool.NewFrom(f))
		}
		push.Push(h.Ctx, 0, &batch)
	}
	h.Elem.(core.Cleaner).Cleanup(h.Ctx)
}
