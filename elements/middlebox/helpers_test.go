package middlebox

import (
	"encoding/binary"
	"net"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"flowbox/appliance/packet"
	"flowbox/elements/elemtest"
)

// tcpSpec describes a test segment.
type tcpSpec struct {
	src, dst     string
	sport, dport uint16
	seq, ack     uint32
	syn, ackf    bool
	psh, fin     bool
	rst          bool
	win          uint16
	opts         []layers.TCPOption
	payload      []byte
	id           uint16
	tos          uint8
}

func defSpec() tcpSpec {
	return tcpSpec{src: "10.0.0.1", dst: "10.0.0.2", sport: 1234, dport: 80, seq: 1000, ack: 5000, win: 5840, id: 77}
}

// build serializes the segment with gopacket (independent of the code
// under test), lengths and checksums filled in.
func (ts tcpSpec) build(t testing.TB) []byte {
	t.Helper()
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolTCP, Id: ts.id, TOS: ts.tos,
		SrcIP: net.ParseIP(ts.src).To4(), DstIP: net.ParseIP(ts.dst).To4()}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(ts.sport), DstPort: layers.TCPPort(ts.dport), Seq: ts.seq, Ack: ts.ack,
		SYN: ts.syn, ACK: ts.ackf, PSH: ts.psh, FIN: ts.fin, RST: ts.rst, Window: ts.win, Options: ts.opts}
	_ = tcp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		ip, tcp, gopacket.Payload(ts.payload)); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func mssOpt(v uint16) layers.TCPOption {
	return layers.TCPOption{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{byte(v >> 8), byte(v)}}
}

func wsOpt(v byte) layers.TCPOption {
	return layers.TCPOption{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{v}}
}

func sackOKOpt() layers.TCPOption {
	return layers.TCPOption{OptionType: layers.TCPOptionKindSACKPermitted, OptionLength: 2}
}

func tsOpt() layers.TCPOption {
	return layers.TCPOption{OptionType: layers.TCPOptionKindTimestamps, OptionLength: 10, OptionData: []byte{0, 0, 0, 1, 0, 0, 0, 2}}
}

func sackOpt(edges ...uint32) layers.TCPOption {
	d := make([]byte, 4*len(edges))
	for i, e := range edges {
		binary.BigEndian.PutUint32(d[4*i:], e)
	}
	return layers.TCPOption{OptionType: layers.TCPOptionKindSACK, OptionLength: uint8(2 + len(d)), OptionData: d}
}

// refSum is a plain RFC 1071 sum, independent of package proto.
func refSum(data []byte, sum uint32) uint32 {
	for i := 0; i+1 < len(data); i += 2 {
		sum += uint32(data[i])<<8 | uint32(data[i+1])
	}
	if len(data)%2 == 1 {
		sum += uint32(data[len(data)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return sum
}

// sumsValid recomputes the IP header and TCP checksums in full.
func sumsValid(ip []byte) bool {
	hl := int(ip[0]&0xf) * 4
	total := int(binary.BigEndian.Uint16(ip[2:]))
	if hl < 20 || total < hl || total > len(ip) || refSum(ip[:hl], 0) != 0xffff {
		return false
	}
	if ip[9] != 6 {
		return true
	}
	seg := ip[hl:total]
	var pseudo [12]byte
	copy(pseudo[:8], ip[12:20])
	pseudo[9] = 6
	binary.BigEndian.PutUint16(pseudo[10:], uint16(len(seg)))
	return refSum(seg, refSum(pseudo[:], 0)) == 0xffff
}

// decode parses an IPv4/TCP packet with gopacket.
func decode(t testing.TB, b []byte) (*layers.IPv4, *layers.TCP) {
	t.Helper()
	pk := gopacket.NewPacket(b, layers.LayerTypeIPv4, gopacket.Default)
	ip, _ := pk.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	tcp, _ := pk.Layer(layers.LayerTypeTCP).(*layers.TCP)
	if ip == nil || tcp == nil {
		t.Fatalf("not IPv4/TCP: % x", b)
	}
	return ip, tcp
}

// opt returns the data of the first option of kind k, or nil.
func opt(tcp *layers.TCP, k layers.TCPOptionKind) []byte {
	for _, o := range tcp.Options {
		if o.OptionType == k {
			return append([]byte{}, o.OptionData...)
		}
	}
	return nil
}

// annotated makes packets with the network annotation at offset 0.
func annotated(h *elemtest.Harness, frames ...[]byte) []*packet.Packet {
	var ps []*packet.Packet
	for _, f := range frames {
		p := h.Packet(f)
		p.SetNetworkAt(0)
		ps = append(ps, p)
	}
	return ps
}

// run pushes frames (annotated) into port and returns the output data.
func run(t *testing.T, class, config string, nports, port int, frames ...[]byte) (*elemtest.Harness, [][]byte) {
	t.Helper()
	h := elemtest.New(t, class, config, nports, nports)
	h.PushPackets(port, annotated(h, frames...)...)
	out := h.Outs[port].Data()
	for i, b := range out {
		if !sumsValid(b) {
			t.Fatalf("%s(%s): output %d has a wrong checksum: % x", class, config, i, b)
		}
	}
	return h, out
}

func newHarness(t *testing.T, class, config string) *elemtest.Harness {
	return elemtest.New(t, class, config, 1, 1)
}

func elemtest2(t *testing.T, class, config string, n int) *elemtest.Harness {
	return elemtest.New(t, class, config, n, n)
}

func buildErr(t *testing.T, class, config string) (*elemtest.Harness, error) {
	return elemtest.Build(t, class, config, elemtest.Options{Inputs: 1, Outputs: 1})
}
