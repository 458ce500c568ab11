package netns_test

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"flowbox/appliance/rings"
	"flowbox/tests/netns/nsenv"
)

// TestKilledFlowboxLeavesNoXDPProgram: flowbox attaches its XDP programs
// (METHOD XDP's redirect program, SHED's drop program) through BPF links,
// so when it dies without cleaning up (SIGKILL, the OOM killer) the kernel
// removes them, and the next start is not refused with "another XDP
// program is already attached".
func TestKilledFlowboxLeavesNoXDPProgram(t *testing.T) {
	if why := nsenv.Available(); why != "" {
		t.Skip(why)
	}
	if !rings.Registered(rings.MethodXDP) {
		t.Skip("no XDP opener in this build")
	}
	e := nsenv.New()
	t.Cleanup(e.Close)
	ns, err := e.AddNS("kill")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Veth(ns, "va", ns, "vb"); err != nil {
		t.Fatal(err)
	}
	shown := func(dev string) bool {
		out, _ := nsenv.NS(ns, "ip", "link", "show", "dev", dev)
		return strings.Contains(out, "prog/xdp")
	}
	for _, c := range []struct{ name, dev, config string }{
		{"XDP", "va", "FromDevice(va, METHOD XDP) -> Discard"},
		{"PACKET+SHED", "vb", "FromDevice(vb, METHOD PACKET, SHED true) -> Discard"},
	} {
		t.Run(c.name, func(t *testing.T) {
			for round := 0; round < 2; round++ { // the second start proves the hook is free again
				cmd := exec.Command("ip", "netns", "exec", ns, flowboxBin, "run", "-e", c.config)
				var out strings.Builder
				cmd.Stdout, cmd.Stderr = &out, &out
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				up := waitUntil(5*time.Second, func() bool { return shown(c.dev) })
				if !up {
					cmd.Process.Kill()
					cmd.Wait()
					t.Fatalf("round %d: no XDP program on %s within 5s; flowbox said:\n%s", round, c.dev, out.String())
				}
				cmd.Process.Signal(syscall.SIGKILL)
				cmd.Wait()
				if !waitUntil(2*time.Second, func() bool { return !shown(c.dev) }) {
					t.Fatalf("round %d: XDP program still on %s after flowbox was killed", round, c.dev)
				}
			}
		})
	}
}

func waitUntil(d time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(d); ; time.Sleep(20 * time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}
