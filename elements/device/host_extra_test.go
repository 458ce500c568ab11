package device

import (
	"net/netip"
	"testing"
)

// DST is the kernel side's address: the host bits must survive parsing
// (a masked 10.254.10.0/24 would give the tap the network address).
func TestDSTKeepsHostBits(t *testing.T) {
	for in, want := range map[string]string{
		"10.254.10.1/24":               "10.254.10.1/24",
		"10.254.10.1/255.255.255.0":    "10.254.10.1/24",
		"10.254.10.1 mask 255.255.0.0": "10.254.10.1/16",
		"10.254.10.7":                  "10.254.10.7/32",
	} {
		var p netip.Prefix
		if err := addrMask(&p)(in); err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if p.String() != want {
			t.Errorf("DST %q parsed as %s, want %s", in, p, want)
		}
	}
	var p netip.Prefix
	if err := addrMask(&p)("10.254.10.1/40"); err == nil {
		t.Errorf("DST 10.254.10.1/40 accepted")
	}
}
