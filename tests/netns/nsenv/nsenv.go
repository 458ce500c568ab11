// Package nsenv creates throw-away network namespaces and veth pairs for
// end-to-end tests and benchmarks (needs root), runs code inside them, and
// removes them again, even when a test fails. Names are prefixed "fbx"
// plus a random suffix so concurrent runs do not clash.
package nsenv

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Env owns a set of namespaces; Close deletes them (and with them every
// veth inside).
type Env struct {
	Suffix string
	// Prefix starts every name (default "fbx").
	Prefix string
	mu     sync.Mutex
	nss    []string
}

// Available reports why namespaces cannot be used here ("" if they can).
func Available() string {
	if os.Geteuid() != 0 {
		return "needs root (network namespaces)"
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return "needs the ip command"
	}
	return ""
}

// New returns an environment with a fresh random suffix.
func New() *Env {
	var b [3]byte
	rand.Read(b[:])
	return &Env{Suffix: hex.EncodeToString(b[:])}
}

// NewPrefixed is New with names starting with prefix instead of "fbx"
// (keep prefix+short+6 within 15 characters).
func NewPrefixed(prefix string) *Env {
	e := New()
	e.Prefix = prefix
	return e
}

// Name returns prefix + short + random suffix, e.g. "fbx" + short +
// "a1b2c3"; keep it within 15 characters when it names an interface.
func (e *Env) Name(short string) string {
	p := e.Prefix
	if p == "" {
		p = "fbx"
	}
	return p + short + e.Suffix
}

// IP runs `ip args...` and returns an error with its output on failure.
func IP(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// NS runs `ip netns exec ns cmd args...` and returns its output.
func NS(ns string, cmd ...string) (string, error) {
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns}, cmd...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("in %s: %s: %v: %s", ns, strings.Join(cmd, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// AddNS creates namespace e.Name(short) with lo up and IPv6 off.
func (e *Env) AddNS(short string) (string, error) {
	ns := e.Name(short)
	if err := IP("netns", "add", ns); err != nil {
		return "", err
	}
	e.mu.Lock()
	e.nss = append(e.nss, ns)
	e.mu.Unlock()
	if err := IP("-n", ns, "link", "set", "lo", "up"); err != nil {
		return "", err
	}
	for _, k := range []string{"net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"} {
		NS(ns, "sysctl", "-qw", k) // best effort
	}
	return ns, nil
}

// Veth creates a veth pair nameA in nsA <-> nameB in nsB, both up.
func (e *Env) Veth(nsA, nameA, nsB, nameB string) error {
	if err := IP("link", "add", nameA, "netns", nsA, "type", "veth", "peer", "name", nameB, "netns", nsB); err != nil {
		return err
	}
	for _, x := range [][2]string{{nsA, nameA}, {nsB, nameB}} {
		NS(x[0], "sysctl", "-qw", "net.ipv6.conf."+x[1]+".disable_ipv6=1")
		if err := IP("-n", x[0], "link", "set", x[1], "up"); err != nil {
			return err
		}
	}
	return nil
}

// Close deletes every namespace the environment created.
func (e *Env) Close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ns := range e.nss {
		IP("netns", "delete", ns)
	}
	e.nss = nil
}

// Run calls f on an OS thread switched into namespace ns. Sockets created
// by f stay in ns and may be used from any goroutine afterwards. The
// thread goes back to its namespace afterwards (or is discarded).
func Run(ns string, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return // thread stays locked: discarded
		}
		defer unix.Close(orig)
		target, err := unix.Open("/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("namespace %s: %v", ns, err)
			return
		}
		err = unix.Setns(target, unix.CLONE_NEWNET)
		unix.Close(target)
		if err != nil {
			errc <- fmt.Errorf("setns %s: %v", ns, err)
			return
		}
		ferr := f()
		if unix.Setns(orig, unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- ferr
	}()
	return <-errc
}

// MAC returns the hardware address of ifname in ns.
func MAC(ns, ifname string) (net.HardwareAddr, error) {
	var hw net.HardwareAddr
	err := Run(ns, func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		hw = ifi.HardwareAddr
		return nil
	})
	return hw, err
}
