// Package rings is flowbox's device I/O layer: the Port abstraction shared by
// every packet I/O method (AF_PACKET TPACKET rings, AF_XDP), the opener
// registry that picks a method, a refcounted device registry that keeps
// devices open across hot reconfiguration, and TAP devices for the kernel
// fallback path.
package rings

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"flowbox/appliance/packet"
)

// Method selects how a Port talks to a device.
type Method string

const (
	// MethodAuto picks XDP when an XDP opener is registered and the device
	// opens with it, else PACKET.
	MethodAuto Method = "AUTO"
	// MethodPacket is AF_PACKET with mmap'd TPACKET rings.
	MethodPacket Method = "PACKET"
	// MethodXDP is AF_XDP (implemented in xdp*.go).
	MethodXDP Method = "XDP"
)

// Options configure a Port. Zero values pick the defaults.
type Options struct {
	Queue      int    // NIC queue (XDP) / fanout member index
	Queues     int    // number of queues/workers sharing the device (PACKET_FANOUT group size for PACKET)
	Burst      int    // max packets per RecvBatch/SendBatch
	Promisc    bool   // put the device in promiscuous mode while open
	Sniffer    bool   // PACKET: don't stop the kernel stack from seeing frames
	BPFFilter  string // optional tcpdump-like filter compiled to classic BPF (PACKET)
	FrameSize  int    // default 2048
	RingFrames int    // default 4096 (PACKET) / 4096 (XDP)
	XDPMode    string // "", "native", "generic": "" = try native then generic
	Shed       bool   // PACKET: XDP load shedding while the RX ring is backed up (xdp_shed.go)
}

// Stats are a Port's counters. DropReasons breaks RXDrops+TXDrops down by
// reason ("oversized", "truncated", "ring-full", ...).
type Stats struct {
	RX, TX, RXDrops, TXDrops, KernelDrops uint64
	// Shed counts frames dropped by XDP load shedding before the kernel's
	// receive path (PACKET with Options.Shed).
	Shed        uint64
	DropReasons map[string]uint64
}

// Port is one queue of one network device. Not safe for concurrent use; each worker owns its ports.
type Port interface {
	// RecvBatch appends up to max received frames to b as packets from pool (copying out of the ring).
	RecvBatch(pool *packet.Pool, b *packet.Batch, max int) (int, error)
	// SendBatch transmits b's packets and frees them to pool; returns how many were sent (the rest are freed and counted as TX drops).
	SendBatch(pool *packet.Pool, b *packet.Batch) (int, error)
	// Method is the I/O method actually in use (never MethodAuto).
	Method() Method
	// Mode details the method, e.g. "tpacket_v2", "xdp-native", "xdp-generic".
	Mode() string
	// Stats returns a snapshot of the counters.
	Stats() Stats
	// Close releases the socket, rings and any attached program.
	Close() error
}

// OpenFunc opens one queue of device ifname with one method.
// Opener registry: the xdp files call RegisterOpener(MethodXDP, openXDP) in init().
type OpenFunc func(ifname string, opt Options) (Port, error)

var (
	openMu  sync.RWMutex
	openers = map[Method]OpenFunc{}
)

// RegisterOpener makes method m available to Open. Call it from init().
func RegisterOpener(m Method, f OpenFunc) {
	openMu.Lock()
	openers[m] = f
	openMu.Unlock()
}

// Registered reports whether an opener for m exists.
func Registered(m Method) bool {
	openMu.RLock()
	defer openMu.RUnlock()
	return openers[m] != nil
}

func opener(m Method) OpenFunc {
	openMu.RLock()
	defer openMu.RUnlock()
	return openers[m]
}

// ParseMethod turns a configuration word into a Method.
func ParseMethod(s string) (Method, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "", "AUTO", "DEFAULT", "ANY":
		return MethodAuto, nil
	case "PACKET", "PCAP", "LINUX":
		return MethodPacket, nil
	case "XDP", "AF_XDP":
		return MethodXDP, nil
	}
	return "", fmt.Errorf("unknown METHOD %q: use AUTO, PACKET or XDP", s)
}

// Open opens one queue of ifname. MethodAuto tries XDP (if registered) and
// falls back to PACKET when XDP does not open. Errors are one sentence
// naming the interface and what to do.
func Open(ifname string, m Method, opt Options) (Port, error) {
	if err := CheckInterface(ifname); err != nil {
		return nil, err
	}
	switch m {
	case MethodAuto, "":
		if f := opener(MethodXDP); f != nil {
			if p, err := f(ifname, opt); err == nil {
				return p, nil
			}
		}
		return openWith(MethodPacket, ifname, opt)
	case MethodPacket, MethodXDP:
		return openWith(m, ifname, opt)
	}
	return nil, fmt.Errorf("%s: unknown method %q: use AUTO, PACKET or XDP", ifname, m)
}

func openWith(m Method, ifname string, opt Options) (Port, error) {
	f := opener(m)
	if f == nil {
		return nil, fmt.Errorf("%s: METHOD %s is not available in this build: use METHOD PACKET or AUTO", ifname, m)
	}
	return f(ifname, opt)
}

// ErrNoInterface marks a missing interface.
var ErrNoInterface = errors.New("no such network interface")

// CheckInterface returns a clear error when ifname does not exist.
func CheckInterface(ifname string) error {
	if ifname == "" {
		return fmt.Errorf("empty interface name: give FromDevice/ToDevice a DEVNAME")
	}
	if _, err := net.InterfaceByName(ifname); err != nil {
		return fmt.Errorf("%s: %w in this network namespace: check the name with `ip link` (or run flowbox in the namespace that owns it)", ifname, ErrNoInterface)
	}
	return nil
}

// PermissionError builds the one-sentence error for a missing capability.
func PermissionError(ifname, what, caps string, err error) error {
	return fmt.Errorf("%s: %s needs %s (%v): run flowbox as root or grant it with `setcap cap_net_raw,cap_net_admin,cap_bpf+ep flowbox`", ifname, what, caps, err)
}

// IsPermission reports whether err is EPERM/EACCES.
func IsPermission(err error) bool {
	return errors.Is(err, os.ErrPermission)
}

// regKey identifies one shared Port in the device registry.
type regKey struct {
	ifname string
	method Method
	queue  int
}

type regEntry struct {
	port Port
	refs int
}

var (
	regMu  sync.Mutex
	devReg = map[regKey]*regEntry{}
)

// Acquire returns the Port for (ifname, method, opt.Queue), opening it on
// first use and sharing it afterwards (refcounted). A hot reconfiguration's
// new FromDevice acquires the Port its predecessor holds, and the old one's
// Cleanup calls release; the Port closes when the last holder releases it.
// release is idempotent. MethodAuto is resolved on first open; later
// MethodAuto acquirers share whatever was chosen.
func Acquire(ifname string, m Method, opt Options) (Port, func(), error) {
	if m == "" {
		m = MethodAuto
	}
	k := regKey{ifname, m, opt.Queue}
	regMu.Lock()
	defer regMu.Unlock()
	e := devReg[k]
	if e == nil {
		p, err := Open(ifname, m, opt)
		if err != nil {
			return nil, nil, err
		}
		e = &regEntry{port: p}
		devReg[k] = e
	}
	e.refs++
	var once sync.Once
	release := func() {
		once.Do(func() {
			regMu.Lock()
			defer regMu.Unlock()
			e.refs--
			if e.refs == 0 {
				if devReg[k] == e {
					delete(devReg, k)
				}
				e.port.Close()
			}
		})
	}
	return e.port, release, nil
}

// Held reports how many holders share (ifname, method, queue) (tests).
func Held(ifname string, m Method, queue int) int {
	regMu.Lock()
	defer regMu.Unlock()
	if e := devReg[regKey{ifname, m, queue}]; e != nil {
		return e.refs
	}
	return 0
}

// Linux capability numbers.
const (
	capNetAdmin = 12
	capNetRaw   = 13
	capSysAdmin = 21
	capBPF      = 39
)

// hasCap reports whether the calling thread has capability c in its
// effective set (false when it cannot be read).
func hasCap(c int) bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	return data[c/32].Effective&(1<<(uint(c)%32)) != 0
}

// Check validates at configuration time what can be known without opening
// the device: the interface exists in this network namespace, the process
// holds the capabilities the method needs, the XDP mode is one we know.
// Errors are one sentence naming the interface and what to do.
func Check(ifname string, m Method, opt Options) error {
	switch opt.XDPMode {
	case "", "native", "generic":
	default:
		return fmt.Errorf("%s: unsupported XDP mode %q: use XDP_MODE native, generic, or leave it empty to try native then generic", ifname, opt.XDPMode)
	}
	if err := CheckInterface(ifname); err != nil {
		return err
	}
	const how = "run flowbox as root or grant it with `setcap cap_net_raw,cap_net_admin,cap_bpf+ep flowbox`"
	if !hasCap(capNetRaw) {
		return fmt.Errorf("%s: METHOD %s needs CAP_NET_RAW to open raw sockets: %s", ifname, m, how)
	}
	if m == MethodXDP {
		if !Registered(MethodXDP) {
			return fmt.Errorf("%s: METHOD XDP is not available in this build: use METHOD PACKET or AUTO", ifname)
		}
		if !hasCap(capNetAdmin) {
			return fmt.Errorf("%s: METHOD XDP needs CAP_NET_ADMIN to attach an XDP program: %s", ifname, how)
		}
		if !hasCap(capBPF) && !hasCap(capSysAdmin) {
			return fmt.Errorf("%s: METHOD XDP needs CAP_BPF (or CAP_SYS_ADMIN) to load the XDP program: %s", ifname, how)
		}
	}
	if !opt.Sniffer && m == MethodPacket && !hasCap(capNetAdmin) {
		return fmt.Errorf("%s: SNIFFER false needs CAP_NET_ADMIN to install an nf_tables drop chain: %s", ifname, how)
	}
	if opt.Shed && m != MethodXDP {
		if !hasCap(capNetAdmin) {
			return fmt.Errorf("%s: SHED needs CAP_NET_ADMIN to attach its XDP program: %s", ifname, how)
		}
		if !hasCap(capBPF) && !hasCap(capSysAdmin) {
			return fmt.Errorf("%s: SHED needs CAP_BPF (or CAP_SYS_ADMIN) to load its XDP program: %s", ifname, how)
		}
	}
	return nil
}
