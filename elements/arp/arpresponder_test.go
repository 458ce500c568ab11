package arp

import (
	"bytes"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/google/gopacket/layers"

	"flowbox/appliance/packet"
	"flowbox/elements/elemtest"
)

func TestARPResponder(t *testing.T) {
	const cfg = "10.0.0.1 10.0.0.3 00:11:22:33:44:55, 192.168.0.0/16 02:00:00:00:00:09, 192.168.7.0/24 66:77:88:99:aa:bb"
	cases := []struct {
		name    string
		in      []byte
		wantEth net.HardwareAddr // nil: not answered
	}{
		{name: "host entry", in: arpFrame(t, layers.ARPRequest, peerMAC, "10.0.0.2", net.HardwareAddr{0, 0, 0, 0, 0, 0}, "10.0.0.1", false), wantEth: ourMAC},
		{name: "second address of entry, padded", in: arpFrame(t, layers.ARPRequest, peerMAC, "10.0.0.2", make(net.HardwareAddr, 6), "10.0.0.3", true), wantEth: ourMAC},
		{name: "proxy arp", in: arpFrame(t, layers.ARPRequest, peerMAC, "10.0.0.2", make(net.HardwareAddr, 6), "192.168.200.4", false), wantEth: otherMAC},
		{name: "longest prefix wins", in: arpFrame(t, layers.ARPRequest, peerMAC, "10.0.0.2", make(net.HardwareAddr, 6), "192.168.7.77", false), wantEth: peerMAC},
		{name: "unknown target", in: arpFrame(t, layers.ARPRequest, peerMAC, "10.0.0.2", make(net.HardwareAddr, 6), "10.0.0.9", false)},
		{name: "reply not answered", in: arpFrame(t, layers.ARPReply, peerMAC, "10.0.0.2", ourMAC, "10.0.0.1", false)},
		{name: "truncated", in: arpFrame(t, layers.ARPRequest, peerMAC, "10.0.0.2", make(net.HardwareAddr, 6), "10.0.0.1", false)[:41]},
		{name: "not arp", in: append(bytes.Repeat([]byte{1}, 12), 0x08, 0x00, 0x45)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := elemtest.New(t, "ARPResponder", cfg, 1, 2)
			h.Push(0, tc.in)
			if tc.wantEth == nil {
				if h.Outs[0].Count != 0 || h.Outs[1].Count != 1 || !bytes.Equal(h.Outs[1].Pkts[0].Data(), tc.in) {
					t.Fatal("packet not passed unchanged to output 1")
				}
				return
			}
			if h.Outs[0].Count != 1 {
				t.Fatal("no reply")
			}
			_, req := decodeARP(t, tc.in)
			eth, rep := decodeARP(t, h.Outs[0].Pkts[0].Data())
			if len(h.Outs[0].Pkts[0].Data()) != 42 || rep.Operation != layers.ARPReply ||
				!bytes.Equal(eth.DstMAC, peerMAC) || !bytes.Equal(eth.SrcMAC, tc.wantEth) ||
				!bytes.Equal(rep.SourceHwAddress, tc.wantEth) || !bytes.Equal(rep.SourceProtAddress, req.DstProtAddress) ||
				!bytes.Equal(rep.DstHwAddress, peerMAC) || !bytes.Equal(rep.DstProtAddress, req.SourceProtAddress) {
				t.Fatalf("bad reply: %+v from %v", rep, eth.SrcMAC)
			}
		})
	}
}

func TestARPResponderHandlers(t *testing.T) {
	h := elemtest.New(t, "ARPResponder", "10.0.0.1 00:11:22:33:44:55", 1, 1)
	if err := h.Write("add", "172.16.0.0/12 66:77:88:99:aa:bb"); err != nil {
		t.Fatal(err)
	}
	if got := h.Read("lookup", "172.20.1.1"); got != "66:77:88:99:aa:bb" {
		t.Fatalf("lookup = %q", got)
	}
	want := "10.0.0.1/32 00:11:22:33:44:55\n172.16.0.0/12 66:77:88:99:aa:bb\n"
	if got := h.Read("table"); got != want {
		t.Fatalf("table = %q, want %q", got, want)
	}
	if err := h.Write("remove", "172.16.0.0/12"); err != nil {
		t.Fatal(err)
	}
	if x, _ := h.Handler("lookup"); func() error { _, err := x.Read("172.20.1.1"); return err }() == nil {
		t.Fatal("removed entry still found")
	}
	if h.Write("remove", "1.2.3.4") == nil || h.Write("add", "10.0.0.0/8") == nil {
		t.Fatal("bad handler writes accepted")
	}
	// Not answered without output 1: dropped and counted.
	h.Push(0, arpFrame(t, layers.ARPRequest, peerMAC, "10.0.0.2", make(net.HardwareAddr, 6), "10.9.9.9", false))
	if h.Read("drops") != "1" || h.Elem.Core().Drops != 1 {
		t.Fatal("unanswered request not dropped")
	}
	for _, cfg := range []string{"", "10.0.0.1", "00:11:22:33:44:55", "10.0.0.1 1:2:3:4:5:6 1:2:3:4:5:7", "bogus 1:2:3:4:5:6"} {
		if _, err := elemtest.Build(t, "ARPResponder", cfg, elemtest.Options{Inputs: 1, Outputs: 1}); err == nil {
			t.Errorf("config %q accepted", cfg)
		}
	}
	if !strings.Contains(h.Read("table"), "10.0.0.1/32") {
		t.Fatal("table lost the configured entry")
	}
}

// pushFrames pushes a batch of 64 copies of frames, in turn.
func pushFrames(h *elemtest.Harness, b *packet.Batch, frames [][]byte) {
	for i := 0; i < packet.MaxBatch; i++ {
		b.Append(h.Ctx.Pool.NewFrom(frames[i%len(frames)]))
	}
	h.PushBatch(0, b)
}

func arpResponderBench(t testing.TB) (*elemtest.Harness, [][]byte) {
	h := elemtest.New(t, "ARPResponder", "10.0.0.1 00:11:22:33:44:55", 1, 2)
	h.Outs[0].Discard = true
	h.Outs[1].Discard = true
	return h, [][]byte{
		arpFrame(t, layers.ARPRequest, peerMAC, "10.0.0.2", make(net.HardwareAddr, 6), "10.0.0.1", true),
		arpFrame(t, layers.ARPRequest, peerMAC, "10.0.0.2", make(net.HardwareAddr, 6), "10.0.0.9", true),
	}
}

func TestARPResponderAllocs(t *testing.T) {
	h, frames := arpResponderBench(t)
	var b packet.Batch
	run := func() { pushFrames(h, &b, frames) }
	run()
	if a := testing.AllocsPerRun(50, run); a != 0 {
		t.Fatalf("%v allocations per batch", a)
	}
	n := strconv.Itoa(h.Outs[0].Count)
	if h.Outs[0].Count == 0 || h.Outs[1].Count != h.Outs[0].Count || h.Read("count") != n || h.Read("drops") != n {
		t.Fatalf("answered %d rejected %d count %s drops %s", h.Outs[0].Count, h.Outs[1].Count, h.Read("count"), h.Read("drops"))
	}
}

// BenchmarkARPResponder answers batches of 64 requests, every other one
// for an address it does not answer (those go to output 1); ns/op is per
// packet and includes copying each frame into a fresh pool packet.
func BenchmarkARPResponder(b *testing.B) {
	h, frames := arpResponderBench(b)
	var bt packet.Batch
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += packet.MaxBatch {
		pushFrames(h, &bt, frames)
	}
}
