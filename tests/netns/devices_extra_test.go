package netns_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"flowbox/appliance/packet"
	"flowbox/appliance/rings"
	"flowbox/tests/netns/nsenv"
)

// line builds gen(g0) -- (d0)dut(d1) -- (s0)sink and returns the three
// namespaces with PACKET ports on g0 and s0.
func line(t *testing.T) (e *nsenv.Env, gen, dut, sink string, g, s rings.Port) {
	t.Helper()
	e = newEnv(t)
	nss := mustNS(t, e, "gen", "dut", "snk")
	gen, dut, sink = nss[0], nss[1], nss[2]
	must(t, e.Veth(gen, "g0", dut, "d0"))
	must(t, e.Veth(dut, "d1", sink, "s0"))
	return e, gen, dut, sink, packetPort(t, gen, "g0"), packetPort(t, sink, "s0")
}

var (
	macDst = net.HardwareAddr{0x02, 0xfb, 0, 0, 0, 2}
	macSrc = net.HardwareAddr{0x02, 0xfb, 0, 0, 0, 1}
)

const probeSeq = 0xffffffff

func probeFrame(pool *packet.Pool) *packet.Packet {
	return udpFrame(pool, macDst, macSrc, 1, probeSeq, 20)
}

func isProbe(d []byte) bool { s, ok := udpSeq(d); return ok && s == probeSeq }

// exactlyOnce returns a seen function for stream that fails the test on
// a duplicate or a damaged frame and counts distinct frames below total.
func exactlyOnce(t *testing.T, total uint32, size func(seq uint32) int) (seen func(d []byte) bool, dups *int) {
	got := make([]bool, total)
	var d0 int
	return func(d []byte) bool {
		seq, ok := udpSeq(d)
		if !ok || seq >= total {
			return false
		}
		if len(d) != 14+20+8+size(seq) {
			t.Errorf("frame %d: length %d, want %d", seq, len(d), 14+20+8+size(seq))
			return false
		}
		if got[seq] {
			if d0++; d0 <= 5 {
				t.Errorf("frame %d arrived twice", seq)
			}
			return false
		}
		got[seq] = true
		return true
	}, &d0
}

// TestFanoutQueues runs two FromDevice(d0, QUEUE 0/1, QUEUES 2) on two
// worker threads: the PACKET_FANOUT hash group splits the flows between
// them, and every frame reaches the sink exactly once.
func TestFanoutQueues(t *testing.T) {
	t.Run("plain", func(t *testing.T) { fanoutQueues(t, "") })
	// The fanout members share one XDP load-shedding program on d0.
	t.Run("SHED", func(t *testing.T) { fanoutQueues(t, ", SHED true") })
}

func fanoutQueues(t *testing.T, extra string) {
	_, _, dut, _, g, s := line(t)
	cfg := fmt.Sprintf(`
q0 :: FromDevice(d0, METHOD PACKET, QUEUE 0, QUEUES 2%s) -> c0 :: Counter -> ToDevice(d1, METHOD PACKET, QUEUE 0);
q1 :: FromDevice(d0, METHOD PACKET, QUEUE 1, QUEUES 2%s) -> c1 :: Counter -> ToDevice(d1, METHOD PACKET, QUEUE 1);
`, extra, extra)
	p := startFlowbox(t, dut, "", "--threads", "2", "-e", cfg, "-h", "c0.count", "-h", "c1.count", "-h", "q0.thread", "-h", "q1.thread", "-h", "q0.mode", "-h", "q1.mode")
	if !waitFlow(t, g, s, probeFrame, isProbe) {
		t.Fatalf("no frame crossed flowbox within 5s:\n%s", p.stop())
	}
	const total = 6000
	size := func(seq uint32) int { return 20 + int(seq%200) }
	seen, dups := exactlyOnce(t, total, size)
	got := stream(t, g, s, total, 500*time.Microsecond, func(pool *packet.Pool, seq uint32) *packet.Packet {
		// 64 flows (source ports) so the hash spreads them.
		return udpFrame(pool, macDst, macSrc, 1000+uint16(seq%64), seq, size(seq))
	}, seen, nil)
	out := p.stop()
	if got != total || *dups != 0 {
		t.Fatalf("sink got %d distinct of %d frames, %d duplicates\n%s", got, total, *dups, out)
	}
	c0, c1 := handlerValue(t, out, "c0.count"), handlerValue(t, out, "c1.count")
	if c0 == 0 || c1 == 0 {
		t.Fatalf("fanout did not spread: queue 0 got %d, queue 1 got %d", c0, c1)
	}
	// Probes are counted too; every other frame went through one queue only.
	if c0+c1 < total || c0+c1 > total+100 {
		t.Fatalf("queues counted %d+%d frames for %d sent", c0, c1, total)
	}
	if handlerValue(t, out, "q0.thread") == handlerValue(t, out, "q1.thread") {
		t.Fatalf("both queues ran on one thread:\n%s", out)
	}
	if extra != "" && (!strings.Contains(out, "q0.mode:\ntpacket_v2+shed-") || !strings.Contains(out, "q1.mode:\ntpacket_v2+shed-")) {
		t.Fatalf("not both fanout members shed:\n%s", out)
	}
	t.Logf("queue 0: %d frames, queue 1: %d frames", c0, c1)
}

// packetInodes lists the AF_PACKET socket inodes open in ns.
func packetInodes(t *testing.T, ns string) string {
	t.Helper()
	out, err := nsenv.NS(ns, "cat", "/proc/net/packet")
	must(t, err)
	var ino []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		if f := strings.Fields(l); len(f) > 0 {
			ino = append(ino, f[len(f)-1])
		}
	}
	sort.Strings(ino)
	return strings.Join(ino, ",")
}

// xdpProg returns the id of the XDP program attached to ifname ("" if none).
func xdpProg(t *testing.T, ns, ifname string) string {
	t.Helper()
	out, err := nsenv.NS(ns, "ip", "-d", "link", "show", ifname)
	must(t, err)
	if m := regexp.MustCompile(`prog/xdp\S* id (\d+)`).FindStringSubmatch(out); m != nil {
		return m[1]
	}
	return ""
}

// TestHotReloadKeepsDevices runs the real binary with a control socket,
// streams distinct frames FromDevice(d0) -> ToDevice(d1), and swaps the
// configuration six times while they flow (five 'config load' through
// flowbox shell, one SIGHUP after rewriting the file). The devices must
// stay open (same AF_PACKET sockets, same XDP program, the FromDevice's
// rx counter continuous) and no frame may be lost or duplicated.
func TestHotReloadKeepsDevices(t *testing.T) {
	for _, method := range []string{"PACKET", "XDP"} {
		t.Run(method, func(t *testing.T) {
			if method == "XDP" && !rings.Registered(rings.MethodXDP) {
				t.Skip("no XDP opener in this build")
			}
			hotReload(t, method)
		})
	}
}

func hotReload(t *testing.T, method string) {
	_, _, dut, _, g, s := line(t)
	dir := t.TempDir()
	cfgA := fmt.Sprintf("src :: FromDevice(d0, METHOD %s) -> c :: Counter -> dst :: ToDevice(d1, METHOD %s);\n", method, method)
	cfgB := fmt.Sprintf("src :: FromDevice(d0, METHOD %s) -> c :: Counter -> p :: Paint(3) -> dst :: ToDevice(d1, METHOD %s);\n", method, method)
	file := filepath.Join(dir, "fb.click")
	alt := filepath.Join(dir, "alt.click")
	must(t, os.WriteFile(file, []byte(cfgA), 0o644))
	sock := filepath.Join(dir, "fb.sock")
	p := startFlowbox(t, dut, sock, file)
	if !waitFlow(t, g, s, probeFrame, isProbe) {
		t.Fatalf("no frame crossed flowbox within 5s:\n%s", p.stop())
	}
	inodes := packetInodes(t, dut)
	prog := ""
	if method == "XDP" {
		if prog = xdpProg(t, dut, "d0"); prog == "" {
			t.Fatalf("no XDP program on d0 with METHOD XDP")
		}
	}

	const total = 8000
	size := func(seq uint32) int { return 20 + int(seq%300) }
	seen, dups := exactlyOnce(t, total, size)
	// Reloads run beside the stream, so swaps happen while frames flow.
	reloads := make(chan error, 1)
	go func() {
		for i := 0; i < 6; i++ {
			time.Sleep(120 * time.Millisecond)
			cfg := cfgB
			if i%2 == 1 {
				cfg = cfgA
			}
			if i == 3 {
				// SIGHUP re-reads the file flowbox was started with.
				if err := os.WriteFile(file, []byte(cfg), 0o644); err != nil {
					reloads <- err
					return
				}
				if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
					reloads <- err
					return
				}
				continue
			}
			if err := os.WriteFile(alt, []byte(cfg), 0o644); err != nil {
				reloads <- err
				return
			}
			if out, err := p.shell("config load " + alt); err != nil {
				reloads <- fmt.Errorf("reload %d: %v", i, err)
				return
			} else if i == 0 {
				t.Logf("config load: %s", out)
			}
		}
		reloads <- nil
	}()
	// ~6400 frames/s: the stream lasts about 1.25s, the reloads ~0.8s.
	got := stream(t, g, s, total, 5*time.Millisecond, func(pool *packet.Pool, seq uint32) *packet.Packet {
		return udpFrame(pool, macDst, macSrc, 1000, seq, size(seq))
	}, seen, nil)
	if err := <-reloads; err != nil {
		t.Fatalf("%v\nflowbox:\n%s", err, p.stop())
	}
	// The last swap (SIGHUP is asynchronous) must have happened: the
	// graph has no Paint after an even number of swaps from A.
	for i := 0; ; i++ {
		out, _ := p.shell("show elements")
		if !strings.Contains(out, "Paint") {
			break
		}
		if i == 40 {
			t.Fatalf("SIGHUP reload did not take effect:\n%s\n%s", out, p.out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	count, rx := p.readUint("src.count"), p.readUint("src.rx")
	after := packetInodes(t, dut)
	progAfter := ""
	if method == "XDP" {
		progAfter = xdpProg(t, dut, "d0")
	}
	out := p.stop()
	if got != total || *dups != 0 {
		t.Fatalf("sink got %d distinct of %d frames, %d duplicates; gen %+v sink %+v\nflowbox:\n%s", got, total, *dups, g.Stats(), s.Stats(), out)
	}
	if n := strings.Count(out, "reloaded"); n != 1 {
		t.Errorf("SIGHUP reloads logged: %d, want 1\n%s", n, out)
	}
	if inodes != after {
		t.Errorf("AF_PACKET sockets changed across the swaps: %s -> %s", inodes, after)
	}
	if prog != progAfter {
		t.Errorf("XDP program on d0 changed across the swaps: id %s -> %s", prog, progAfter)
	}
	// src.count moves to each new element by TakeState; src.rx is the
	// device queue's own counter: a reopened queue would restart it.
	if count < total || rx != count {
		t.Errorf("src.count %d, src.rx %d: want both >= %d and equal (rx continuous across swaps)", count, rx, total)
	}
	t.Logf("%s: %d frames across 6 swaps, sockets %s, xdp prog %q, src.rx %d", method, got, inodes, prog, rx)
}
