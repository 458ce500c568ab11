package rings_test

import (
	"os"
	"testing"

	"golang.org/x/net/bpf"

	"flowbox/appliance/rings"
)

func errClosed() error { return os.ErrClosed }

// udpFrame is an Ethernet/IPv4/UDP frame 10.0.0.1:1000 -> 10.0.0.2:53.
func udpFrame() []byte {
	f := make([]byte, 60)
	copy(f[0:], []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00})
	f[14] = 0x45
	f[23] = 17
	copy(f[26:], []byte{10, 0, 0, 1, 10, 0, 0, 2})
	f[34], f[35] = 0x03, 0xe8
	f[36], f[37] = 0, 53
	return f
}

func TestCompileFilter(t *testing.T) {
	udp := udpFrame()
	arp := append([]byte(nil), udp...)
	arp[12], arp[13] = 0x08, 0x06
	cases := []struct {
		expr     string
		udp, arp bool
	}{
		{"ip", true, false},
		{"arp", false, true},
		{"udp", true, false},
		{"tcp", false, false},
		{"udp port 53", true, false},
		{"udp dst port 53", true, false},
		{"udp src port 53", false, false},
		{"port 1000", true, false},
		{"host 10.0.0.2", true, false},
		{"src host 10.0.0.2", false, false},
		{"net 10.0.0.0/8", true, false},
		{"not ip", false, true},
		{"arp or (udp and port 53)", true, true},
		{"udp && !port 54", true, false},
		{"ether src 02:00:00:00:00:01", true, true},
		{"ether proto 0x0806", false, true},
		{"greater 100", false, false},
		{"less 100", true, true},
		{"icmp", false, false},
	}
	for _, c := range cases {
		raw, err := rings.CompileFilter(c.expr)
		if err != nil {
			t.Fatalf("%q: %v", c.expr, err)
		}
		insns, _ := bpf.Disassemble(raw)
		vm, err := bpf.NewVM(insns)
		if err != nil {
			t.Fatalf("%q: %v", c.expr, err)
		}
		for _, f := range []struct {
			name string
			data []byte
			want bool
		}{{"udp", udp, c.udp}, {"arp", arp, c.arp}} {
			n, err := vm.Run(f.data)
			if err != nil {
				t.Fatalf("%q on %s: %v", c.expr, f.name, err)
			}
			if (n > 0) != f.want {
				t.Errorf("%q on %s frame: accept=%v, want %v", c.expr, f.name, n > 0, f.want)
			}
		}
	}
	for _, bad := range []string{"", "udp port", "host foo", "(ip", "frobnicate", "port 70000"} {
		if _, err := rings.CompileFilter(bad); err == nil {
			t.Errorf("%q compiled", bad)
		}
	}
}
