package verify

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
	"flowbox/appliance/proto"
	_ "flowbox/elements/all"
	"flowbox/elements/elemtest"
	"flowbox/verify/sym"
)

// untracked fields: lengths, IDs and checksums are not modelled.
var untracked = map[string]bool{"quoted ip len": true, "quoted ip sum": true, "ip len": true, "ip id": true, "ip sum": true, "l4 sum": true, "udp len": true, "udp sum": true, "icmp rest": true}

var payloadBytes = []byte("symbolic-payload-0123456789abcdef")

// concretize writes the packet of snapshot sn under model m: fields in
// order from the data start, then the payload. IP lengths and checksums
// are made valid when the path allows it.
func concretize(t *testing.T, s *sym.State, sn sym.Snap, m *sym.Assignment) []byte {
	var b []byte
	for _, f := range sn.Mem {
		if f.Off < sn.Head {
			continue
		}
		for int32(len(b)) < f.Off-sn.Head {
			b = append(b, 0)
		}
		if f.Len == 0 {
			b = append(b, payloadBytes...)
			break
		}
		v := m.Value(f.Val)
		for i := f.Len - 1; i >= 0; i-- {
			b = append(b, byte(v>>(8*uint(i))))
		}
	}
	if ip := sn.Hdr[sym.L3]; ip != sym.Unset && ip >= sn.Head && int(ip-sn.Head)+20 <= len(b) {
		h := b[ip-sn.Head:]
		lf, _ := s.Load(ip+sym.IPLen, 2)
		if c := s.S.Clone(); c.In(lf, sym.Point(uint32(len(h)))) && c.Feasible() {
			binary.BigEndian.PutUint16(h[2:], uint16(len(h)))
		}
		proto.SetIPv4Checksum(h[:20])
	}
	return b
}

type modelCase struct {
	class, config string
	nin, nout     int
	kind          int // sym.EtherFrame or sym.IPPacket
	in            int
}

type symOut struct {
	port   int // -1: ended
	state  *sym.State
	reason string
}

// runModel pushes an unconstrained packet through the model of one
// element and collects every outcome.
func runModel(t *testing.T, c modelCase) []symOut {
	g := NewGraph()
	n := &Node{Name: "e", Elem: "e", Class: c.class, Conf: c.config, NIn: c.nin, NOut: c.nout}
	if err := g.instantiate(n); err != nil {
		t.Fatalf("%s(%s): %v", c.class, c.config, err)
	}
	if n.beh == nil {
		t.Fatalf("%s has no model: %s", c.class, n.Opaque)
	}
	s := sym.NewPacket(g.Vars, c.kind, "")
	var outs []symOut
	x := &sym.Ctx{Elem: "e", Class: c.class, NOut: c.nout}
	x.Out = func(p int, st *sym.State) { outs = append(outs, symOut{port: p, state: st}) }
	x.Stop = func(st *sym.State, o sym.Outcome, reason string) {
		if o != sym.Infeasible {
			outs = append(outs, symOut{port: -1, state: st, reason: o.String() + ": " + reason})
		}
	}
	n.beh.Push(x, c.in, s)
	return outs
}

// checkAgainstElement runs the concrete packet of every model path
// through the real element and compares output port and header bytes.
func checkAgainstElement(t *testing.T, c modelCase) {
	t.Helper()
	outs := runModel(t, c)
	if len(outs) == 0 {
		t.Fatalf("%s: model produced no path", c.class)
	}
	for i, o := range outs {
		m, ok := o.state.S.Model()
		if !ok || strings.HasPrefix(o.reason, "unprovable") || o.state.S.Approx {
			continue
		}
		init := o.state.Init
		data := concretize(t, o.state, init, m)
		h, err := elemtest.Build(t, c.class, c.config, elemtest.Options{Inputs: c.nin, Outputs: c.nout})
		if err != nil {
			t.Fatal(err)
		}
		p := h.Packet(data)
		if c.kind == sym.IPPacket {
			p.SetNetworkAt(0)
			p.SetTransportAt(20)
			copy(p.Anno.DstIP[:], data[16:20])
		}
		if prep := modelPrep[c.class]; prep != nil && prep(t, h, o, m, data) {
			continue
		}
		h.PushPackets(c.in, p)
		realPort := -1
		var got *packet.Packet
		for k, col := range h.Outs {
			if len(col.Pkts) > 0 {
				if realPort >= 0 && o.port < 0 {
					t.Errorf("path %d: several outputs", i)
				}
				if realPort < 0 || k == o.port {
					realPort, got = k, col.Pkts[0]
				}
			}
		}
		desc := fmt.Sprintf("%s(%s) path %d (%x)", c.class, c.config, i, data[:min(len(data), 40)])
		if realPort != o.port {
			t.Errorf("%s: model says output %d (%s), element sent it to %d", desc, o.port, o.reason, realPort)
			continue
		}
		if got == nil {
			continue
		}
		end := o.state.Snapshot()
		d := got.Data()
		for _, f := range end.Mem {
			if f.Off < end.Head || untracked[f.Name] {
				continue
			}
			at := int(f.Off - end.Head)
			if f.Len == 0 {
				if f.Val == init.Mem[len(init.Mem)-1].Val {
					if at > len(d) || !bytes.HasPrefix(d[at:], payloadBytes) {
						t.Errorf("%s: payload not at offset %d of the output", desc, at)
					}
				}
				continue
			}
			if at+int(f.Len) > len(d) {
				t.Errorf("%s: field %s at %d past the output (%d bytes)", desc, f.Name, at, len(d))
				continue
			}
			var v uint32
			for _, c := range d[at : at+int(f.Len)] {
				v = v<<8 | uint32(c)
			}
			if want := m.Value(f.Val); v != want && !fresh(o.state, f.Val) {
				t.Errorf("%s: field %s = %#x, model says %#x (%s)", desc, f.Name, v, want, o.state.Vars().Format(f.Val))
			}
		}
		if da, ok := end.Meta["dst anno"]; ok && !fresh(o.state, da) {
			if got := binary.BigEndian.Uint32(got.Anno.DstIP[:]); got != m.Value(da) {
				t.Errorf("%s: dst annotation %s, model says %s", desc, sym.U32(got), sym.U32(m.Value(da)))
			}
		}
		if ip, ok := o.state.AnnoAt(sym.L3); ok {
			if got.NetworkOffset() != int(ip-end.Head) {
				t.Errorf("%s: network annotation at %d, model says %d", desc, got.NetworkOffset(), ip-end.Head)
			}
		}
	}
}

// modelPrep prepares the real element for one model path (state the
// model takes as given, such as a learned ARP entry); true skips the path
// (its outcome depends on time or on traffic the test does not send).
var modelPrep = map[string]func(t *testing.T, h *elemtest.Harness, o symOut, m *sym.Assignment, data []byte) bool{
	"ARPQuerier": func(t *testing.T, h *elemtest.Harness, o symOut, m *sym.Assignment, data []byte) bool {
		if strings.Contains(o.reason, "unresolved") {
			return true // held until a reply or a timeout
		}
		if o.port != 0 {
			return false
		}
		end := o.state.Snapshot()
		hi, ok1 := o.state.Field(end.Head)
		lo, ok2 := o.state.Field(end.Head + 4)
		if !ok1 || !ok2 || !fresh(o.state, hi.Val) {
			return false
		}
		v, w := m.Value(hi.Val), m.Value(lo.Val)
		mac := fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", v>>24, v>>16&0xff, v>>8&0xff, v&0xff, w>>8, w&0xff)
		if err := h.Write("insert", fmt.Sprintf("%d.%d.%d.%d %s", data[16], data[17], data[18], data[19], mac)); err != nil {
			t.Fatal(err)
		}
		return false
	},
}

// fresh reports whether e is a variable a model created (a value it does
// not track, such as an ID), rather than one of the injected packet's.
func fresh(s *sym.State, e sym.Expr) bool {
	if _, ok := e.IsConst(); ok {
		return false
	}
	name := s.Vars().Name(e.V)
	return strings.HasPrefix(name, "e.")
}

func TestModelsAgreeWithElements(t *testing.T) {
	cases := []modelCase{
		{"Classifier", "12/0800, 12/0806 20/0001, -", 1, 3, sym.EtherFrame, 0},
		{"Classifier", "12/0800 23/11, !12/0800", 1, 2, sym.EtherFrame, 0},
		{"CheckIPHeader", "14", 1, 2, sym.EtherFrame, 0},
		{"CheckIPHeader", "OFFSET 14, BADSRC 10.0.0.1, GOODDST 10.0.0.2", 1, 1, sym.EtherFrame, 0},
		{"IPClassifier", "udp dst port 53, tcp syn, icmp type echo, -", 1, 4, sym.IPPacket, 0},
		{"IPClassifier", "src net 10.0.0.0/8 and not dst host 8.8.8.8, ip ttl < 5", 1, 2, sym.IPPacket, 0},
		{"IPFilter", "allow udp port 1500, deny dst net 192.168.0.0/16, 1 tcp src port > 1023, drop all", 1, 2, sym.IPPacket, 0},
		{"IPFilter", "allow ip frag, allow ip tos 4", 1, 1, sym.IPPacket, 0},
		{"Strip", "14", 1, 1, sym.EtherFrame, 0},
		{"EtherEncap", "0x0800, 1:2:3:4:5:6, a:b:c:d:e:f", 1, 1, sym.IPPacket, 0},
		{"EtherMirror", "", 1, 1, sym.EtherFrame, 0},
		{"EtherRewrite", "1:2:3:4:5:6, a:b:c:d:e:f", 1, 1, sym.EtherFrame, 0},
		{"DecIPTTL", "", 1, 2, sym.IPPacket, 0},
		{"DecIPTTL", "", 1, 1, sym.IPPacket, 0},
		{"IPEncap", "4, 1.2.3.4, 5.6.7.8", 1, 1, sym.IPPacket, 0},
		{"UDPIPEncap", "1.2.3.4, 1234, 5.6.7.8, 4321", 1, 1, sym.IPPacket, 0},
		{"StripIPHeader", "", 1, 1, sym.IPPacket, 0},
		{"IPMirror", "", 1, 1, sym.IPPacket, 0},
		{"ICMPError", "9.9.9.9, unreachable, host", 1, 1, sym.IPPacket, 0},
		{"Paint", "3", 1, 1, sym.IPPacket, 0},
		{"Tee", "", 1, 2, sym.IPPacket, 0},
		{"Counter", "", 1, 1, sym.IPPacket, 0},
		{"LinearIPLookup", "10.0.0.0/8 0, 10.1.0.0/16 10.1.0.1 1, 0.0.0.0/0 2", 1, 3, sym.IPPacket, 0},
		{"RadixIPLookup", "10.0.0.0/8 0, 10.1.0.0/16 10.1.0.1 1, 192.168.1.0/24 1", 1, 2, sym.IPPacket, 0},
		{"StaticIPLookup", "1.0.0.0/8 0, 1.2.3.0/24 1", 1, 2, sym.IPPacket, 0},
		{"IPRewriter", "pattern 9.9.9.9 1024-2047 - - 0 1, drop", 2, 2, sym.IPPacket, 0},
		{"UDPRewriter", "pattern - - 172.16.15.133 - 0 0", 1, 1, sym.IPPacket, 0},
		{"TCPRewriter", "pass 0, keep 0 0", 2, 1, sym.IPPacket, 0},
		{"ChangeSeq", "DELTA 1000", 2, 2, sym.IPPacket, 0},
		{"ChangeWin", "WIN 1000", 1, 1, sym.IPPacket, 0},
		{"ChangeMSS", "MSS 1400", 1, 1, sym.IPPacket, 0},
		{"ChangeSeq", "DELTA 1000", 2, 2, sym.IPPacket, 1},
		{"ChangeEnforcer", "ADDRESS 10.0.0.5, WHITELIST 192.0.2.0/24", 2, 2, sym.IPPacket, 0},
		{"ChangeEnforcer", "ADDRESS 10.0.0.5, WHITELIST 192.0.2.0/24", 2, 2, sym.IPPacket, 1},
		{"ChangeDSCP", "46", 1, 1, sym.IPPacket, 0},
		{"ChangeDSCP", "0", 1, 1, sym.IPPacket, 0},
		{"ChangeECN", "ce", 1, 1, sym.IPPacket, 0},
		{"ChangeECN", "not-ect", 1, 1, sym.IPPacket, 0},
		{"ChangeIPID", "7", 1, 1, sym.IPPacket, 0},
		{"ChangeIPID", "RANDOM true", 1, 1, sym.IPPacket, 0},
		{"ChangeIPID", "5, INCREMENT true", 1, 1, sym.IPPacket, 0},
		{"AddTCPOpt", "mss, 05b4", 1, 1, sym.IPPacket, 0},
		{"AddTCPOpt", "sackok", 1, 1, sym.IPPacket, 0},
		{"AddTCPOpt", "mptcp, DATA 0081 0102030405060708, SYN false", 1, 1, sym.IPPacket, 0},
		{"AddTCPOpt", "tfo, DATA 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff001122334455, SYN false", 1, 1, sym.IPPacket, 0},
		{"RemoveTCPOpt", "mptcp, tfo", 1, 1, sym.IPPacket, 0},
		{"PayloadRewrite", `"abc", "xy"`, 1, 1, sym.IPPacket, 0},
		{"PayloadRewrite", `"abc", "xy", PORT 21`, 2, 2, sym.IPPacket, 0},
		{"PayloadRewrite", `"abc", "xy", PORT 21`, 2, 2, sym.IPPacket, 1},
		{"SegSplit", "10", 1, 1, sym.IPPacket, 0},
		{"Coalesce", "100", 1, 1, sym.IPPacket, 0},
		{"SetIPDSCP", "46", 1, 1, sym.IPPacket, 0},
		{"FlowMeter", "", 1, 1, sym.IPPacket, 0},
		{"PatternMatch", `"abc"`, 1, 1, sym.IPPacket, 0},
		{"PatternMatch", `"abc", "xyz"`, 1, 2, sym.IPPacket, 0},
		{"ICMPPingResponder", "", 1, 1, sym.IPPacket, 0},
		{"ICMPPingResponder", "", 1, 2, sym.IPPacket, 0},
		{"ARPResponder", "10.0.0.1 1:2:3:4:5:6", 1, 2, sym.EtherFrame, 0},
		{"ARPResponder", "10.0.0.1 1:2:3:4:5:6", 1, 1, sym.EtherFrame, 0},
		{"ARPQuerier", "10.0.0.1, 1:2:3:4:5:6", 2, 1, sym.IPPacket, 0},
		{"ARPQuerier", "10.0.0.1, 1:2:3:4:5:6, BROADCAST 10.255.255.255", 2, 2, sym.IPPacket, 0},
		{"IPFragmenter", "60", 1, 1, sym.IPPacket, 0},
		{"IPFragmenter", "60, HONOR_DF true", 1, 2, sym.IPPacket, 0},
		{"ICMPPingRewriter", "pattern 192.0.2.1 - - - 0 1, drop", 2, 2, sym.IPPacket, 0},
		{"ICMPPingRewriter", "pattern 192.0.2.1 - - - 0 1, drop", 2, 2, sym.IPPacket, 1},
		{"ICMPPingRewriter", "pass 0, keep 0 1", 2, 2, sym.IPPacket, 0},
		{"ICMPPingRewriter", "192.0.2.1, -", 1, 2, sym.IPPacket, 0},
	}
	for _, c := range cases {
		c := c
		t.Run(c.class+"("+c.config+")", func(t *testing.T) { checkAgainstElement(t, c) })
	}
}

// Every registered class either has a model, is opaque, or is reported as
// unprovable: never a silent pass-through.
func TestUnmodelledIsUnprovable(t *testing.T) {
	g := NewGraph()
	lg, err := ParseConfig("t.click", []byte(`FromDevice(eth0) -> IPReassembler -> ToDevice(eth0);`))
	if err != nil {
		t.Fatal(err)
	}
	if err := g.AddBox("", lg); err != nil {
		t.Fatal(err)
	}
	r, _ := ParseRequirement("reach from FromDevice@1 -> ToDevice@3")
	a := (&Checker{G: g}).Check(r)
	if a.Verdict != Unprovable {
		t.Fatalf("got %s: %s", a.Verdict, a.Reason)
	}
	var missing []string
	for _, n := range core.ClassNames() {
		if sym.ModelFor(n) == nil {
			missing = append(missing, n)
		}
	}
	t.Logf("classes without a model (unprovable): %s", strings.Join(missing, " "))
}
