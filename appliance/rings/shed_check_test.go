//go:build linux

package rings

import (
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestCheckShedCapabilities: SHED loads and attaches an XDP program, so a
// process without CAP_NET_ADMIN or CAP_BPF gets one sentence at check time.
func TestCheckShedCapabilities(t *testing.T) {
	runtime.LockOSThread() // capabilities are per thread; this one is discarded if restoring fails
	defer runtime.UnlockOSThread()
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var saved [2]unix.CapUserData
	if err := unix.Capget(&hdr, &saved[0]); err != nil {
		t.Skipf("capget: %v", err)
	}
	if saved[0].Effective&(1<<capNetRaw) == 0 {
		t.Skip("needs CAP_NET_RAW (root) to get past the raw-socket check")
	}
	for _, c := range []struct {
		drop []int
		want string
	}{
		{[]int{capNetAdmin}, "lo: SHED needs CAP_NET_ADMIN"},
		{[]int{capBPF, capSysAdmin}, "lo: SHED needs CAP_BPF"},
	} {
		d := saved
		for _, bit := range c.drop {
			d[bit/32].Effective &^= 1 << (uint(bit) % 32)
		}
		if err := unix.Capset(&hdr, &d[0]); err != nil {
			t.Skipf("capset: %v", err)
		}
		err := Check("lo", MethodPacket, Options{Sniffer: true, Shed: true})
		if rerr := unix.Capset(&hdr, &saved[0]); rerr != nil {
			t.Fatalf("restoring capabilities: %v", rerr)
		}
		if err == nil || !strings.HasPrefix(err.Error(), c.want) || !strings.Contains(err.Error(), "setcap") {
			t.Errorf("without %v: error %v, want %q and how to grant it", c.drop, err, c.want)
		}
	}
	if err := Check("lo", MethodPacket, Options{Sniffer: true, Shed: true}); err != nil {
		t.Errorf("with every capability: %v", err)
	}
}
