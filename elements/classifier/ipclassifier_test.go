package classifier

import (
	"reflect"
	"strings"
	"testing"

	"flowbox/elements/elemtest"
)

func TestIPClassifierOutputs(t *testing.T) {
	h := elemtest.New(t, "IPClassifier", "src port 80 or 81, dst tcp port > 1023, udp ? dst port www : icmp, -", 1, 4)
	cases := []struct {
		proto        byte
		sport, dport uint16
	}{
		{17, 81, 9},    // 0: carry-over "81"
		{6, 2000, 80},  // 3
		{6, 22, 2000},  // 1
		{17, 22, 80},   // 2 (ternary, udp branch)
		{1, 23, 0},     // 2 (ternary, icmp branch)
		{17, 24, 53},   // 3
		{47, 25, 0},    // 3 (GRE)
		{6, 26, 1023},  // 3
		{6, 80, 1},     // 0
		{17, 27, 1024}, // 3: tcp-only rule
	}
	for _, c := range cases {
		h.PushPackets(0, ipPacket(h, frame(c.proto, hostA, hostB, c.sport, c.dport, 64)))
	}
	want := [][]uint16{{81, 80}, {22}, {22, 23}, {2000, 24, 25, 26, 27}}
	if got := idsByOutput(h); !reflect.DeepEqual(got, want) {
		t.Errorf("outputs %v, want %v", got, want)
	}
}

func TestIPClassifierFragmentsAndEther(t *testing.T) {
	h := elemtest.New(t, "IPClassifier", "dst port 53, src ether host 1:1:1:1:1:1 and ip frag, ip frag", 1, 3)
	first := frame(17, hostA, hostB, 1, 53, 64)
	first[14+6] = 0x20 // MF: first fragment, ports visible
	later := frame(17, hostA, hostB, 2, 53, 64)
	later[14+7] = 0x10 // offset 16: not a first fragment
	noMAC := frame(17, hostA, hostB, 3, 53, 64)
	noMAC[14+7] = 0x10
	p := ipPacket(h, noMAC)
	p.Anno.Mac = -1
	h.PushPackets(0, ipPacket(h, first), ipPacket(h, later), p)
	if got, want := idsByOutput(h), [][]uint16{{1}, {2}, {3}}; !reflect.DeepEqual(got, want) {
		t.Errorf("outputs %v, want %v", got, want)
	}
}

func TestIPClassifierPatternHandlers(t *testing.T) {
	h := elemtest.New(t, "IPClassifier", "tcp, udp", 1, 2)
	if got := h.Read("pattern1"); got != "udp" {
		t.Errorf("pattern1 = %q", got)
	}
	if err := h.Write("pattern1", "udp port foo"); err == nil || !strings.Contains(err.Error(), "col 10: expected port number or name") {
		t.Errorf("bad write error: %v", err)
	}
	if err := h.Write("pattern1", "icmp"); err != nil {
		t.Fatal(err)
	}
	h.PushPackets(0, ipPacket(h, frame(17, hostA, hostB, 1, 2, 64)), ipPacket(h, frame(1, hostA, hostB, 3, 0, 64)))
	if got := idsByOutput(h); !reflect.DeepEqual(got, [][]uint16{nil, {3}}) {
		t.Errorf("after rewrite outputs %v", got)
	}
	if !strings.Contains(h.Read("program"), "ip[9:1] == 0x1") {
		t.Errorf("program not recompiled:\n%s", h.Read("program"))
	}
}

func TestIPClassifierNeedsOnePatternPerOutput(t *testing.T) {
	_, err := elemtest.Build(t, "IPClassifier", "tcp, udp", elemtest.Options{Inputs: 1, Outputs: 3})
	if err == nil || !strings.Contains(err.Error(), "need 3 arguments, one per output port") {
		t.Errorf("error %v", err)
	}
}
