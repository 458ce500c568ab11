package standard

import (
	"fmt"
	"strings"
	"testing"

	"flowbox/appliance/core"
	"flowbox/appliance/lang"
	"flowbox/appliance/packet"
	"flowbox/appliance/runtime"
	"flowbox/elements/elemtest"
)

// buildRouter parses and builds a whole configuration with the real
// runtime (Initialize included) and returns the build error, if any.
func buildRouter(t *testing.T, conf string) (*runtime.Router, error) {
	t.Helper()
	g, err := lang.Parse("test.click", []byte(conf), lang.Options{IsClass: func(s string) bool { return core.Lookup(s) != nil }})
	if err != nil {
		t.Fatal(err)
	}
	return runtime.Build(g, runtime.BuildOptions{Threads: 1})
}

// udp64 is a 64-byte Ethernet/IPv4/UDP frame (10.0.0.1:1234 -> 10.0.0.2:5678).
func udp64() []byte {
	f := make([]byte, 64)
	copy(f[12:], []byte{0x08, 0x00})
	ip := f[14:]
	ip[0], ip[8], ip[9] = 0x45, 64, 17
	ip[2], ip[3] = 0, 50
	copy(ip[12:], []byte{10, 0, 0, 1, 10, 0, 0, 2})
	udp := ip[20:]
	udp[0], udp[1], udp[2], udp[3], udp[5] = 0x04, 0xd2, 0x16, 0x2e, 30
	return f
}

// hexConfig renders data as a Click \<hex> DATA argument.
func hexConfig(data []byte) string { return fmt.Sprintf(`\<%x>`, data) }

// numbered returns n distinct frames: frame i starts with byte i.
func numbered(n, size int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = make([]byte, size)
		out[i][0] = byte(i)
	}
	return out
}

// firstBytes lists data[0] of each packet (identifies numbered frames).
func firstBytes(pkts []*packet.Packet) []int {
	out := make([]int, len(pkts))
	for i, p := range pkts {
		out[i] = int(p.Data()[0])
	}
	return out
}

// mustFail asserts that building class with config fails with msg in it.
func mustFail(t *testing.T, class, config string, nin, nout int, msg string) {
	t.Helper()
	_, err := elemtest.Build(t, class, config, elemtest.Options{Inputs: nin, Outputs: nout})
	if err == nil || !strings.Contains(err.Error(), msg) {
		t.Fatalf("%s(%s): error %v, want one containing %q", class, config, err, msg)
	}
}

// hasDoc asserts that a class is registered with a complete Doc.
func hasDoc(t *testing.T, class string) {
	t.Helper()
	c := core.Lookup(class)
	if c == nil {
		t.Fatalf("class %s not registered", class)
	}
	d := c.Doc
	if d.Synopsis == "" || d.Summary == "" || d.Description == "" || d.Ports == "" || d.Example == "" {
		t.Errorf("%s: incomplete Doc %+v", class, d)
	}
}

func sameInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func testPool() *packet.Pool { return packet.NewPool(nil) }

// fill queues n numbered packets on the harness source feeding input.
func fill(h *elemtest.Harness, input, n int) {
	for _, f := range numbered(n, 10) {
		h.Srcs[input].Queue = append(h.Srcs[input].Queue, h.Packet(f))
	}
}
