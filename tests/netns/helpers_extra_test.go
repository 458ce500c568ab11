package netns_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"flowbox/appliance/packet"
	"flowbox/appliance/rings"
	"flowbox/tests/netns/nsenv"
)

// newEnv returns a namespace environment whose names start with "fbxr".
func newEnv(t *testing.T) *nsenv.Env {
	t.Helper()
	if why := nsenv.Available(); why != "" {
		t.Skip(why)
	}
	e := nsenv.NewPrefixed("fbxr")
	t.Cleanup(e.Close)
	return e
}

// mustNS creates namespaces with the given short names.
func mustNS(t *testing.T, e *nsenv.Env, short ...string) []string {
	t.Helper()
	var out []string
	for _, s := range short {
		ns, err := e.AddNS(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ns)
	}
	return out
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// syncBuf is an output buffer safe for the exec copier and the test.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// proc is a flowbox binary running inside a namespace.
type proc struct {
	t       *testing.T
	cmd     *exec.Cmd
	out     *syncBuf
	done    chan struct{}
	stopped bool
	sock    string
}

// startFlowbox runs `flowbox run ARGS...` inside ns (ip netns exec execs
// the binary, so the process is flowbox itself). With sock != "" it adds
// -p sock and waits until the control socket answers, i.e. the graph is
// built and its devices are open.
func startFlowbox(t *testing.T, ns, sock string, args ...string) *proc {
	t.Helper()
	all := []string{"netns", "exec", ns, flowboxBin, "run"}
	if sock != "" {
		all = append(all, "-p", sock)
	}
	all = append(all, args...)
	p := &proc{t: t, cmd: exec.Command("ip", all...), out: &syncBuf{}, done: make(chan struct{}), sock: sock}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	must(t, p.cmd.Start())
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.stop() })
	if sock != "" {
		for i := 0; ; i++ {
			if _, err := p.shell("read version"); err == nil {
				break
			}
			select {
			case <-p.done:
				t.Fatalf("flowbox exited:\n%s", p.out)
			default:
			}
			if i == 100 {
				t.Fatalf("control socket %s not up within 5s:\n%s", sock, p.stop())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return p
}

// shell runs `flowbox shell -s SOCK -c CMDS` (the socket is a file, so
// this needs no namespace) and returns its trimmed output.
func (p *proc) shell(cmds string) (string, error) {
	out, err := exec.Command(flowboxBin, "shell", "-s", p.sock, "-c", cmds).CombinedOutput()
	s := strings.TrimSpace(string(out))
	if err != nil {
		return s, fmt.Errorf("flowbox shell -c %q: %v: %s", cmds, err, s)
	}
	return s, nil
}

// readUint reads an integer handler through the control socket.
func (p *proc) readUint(h string) uint64 {
	p.t.Helper()
	s, err := p.shell("read " + h)
	if err != nil {
		p.t.Fatal(err)
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		p.t.Fatalf("%s = %q: %v", h, s, err)
	}
	return v
}

// stop sends SIGINT (SIGKILL after 5s) and returns the combined output.
func (p *proc) stop() string {
	if !p.stopped {
		p.stopped = true
		p.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
		}
	}
	return p.out.String()
}

// handlerValue finds "NAME:\nVALUE" in flowbox's -h output.
func handlerValue(t *testing.T, out, name string) uint64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `:\n(\d+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("handler %s not in output:\n%s", name, out)
	}
	v, _ := strconv.ParseUint(m[1], 10, 64)
	return v
}

// packetPort opens a PACKET port on ifname in ns, receiving everything.
func packetPort(t *testing.T, ns, ifname string) rings.Port {
	t.Helper()
	var p rings.Port
	must(t, nsenv.Run(ns, func() error {
		var err error
		p, err = rings.Open(ifname, rings.MethodPacket, rings.Options{})
		if err == nil {
			err = p.(rings.RXStarter).StartRX(rings.Options{Sniffer: true})
		}
		return err
	}))
	t.Cleanup(func() { p.Close() })
	return p
}

// udpFrame builds an Ethernet/IPv4/UDP frame 10.254.0.1:sport ->
// 10.254.0.2:9 carrying seq, with valid IP and UDP checksums.
func udpFrame(pool *packet.Pool, dst, src net.HardwareAddr, sport uint16, seq uint32, payload int) *packet.Packet {
	p := pool.New(14 + 20 + 8 + payload)
	d := p.Data()
	copy(d[0:], dst)
	copy(d[6:], src)
	d[12], d[13] = 0x08, 0x00
	ip := d[14:]
	ip[0], ip[1], ip[8], ip[9] = 0x45, 0, 64, 17
	binary.BigEndian.PutUint16(ip[2:], uint16(20+8+payload))
	binary.BigEndian.PutUint16(ip[4:], uint16(seq))
	ip[6], ip[7], ip[10], ip[11] = 0, 0, 0, 0
	copy(ip[12:], []byte{10, 254, 0, 1, 10, 254, 0, 2})
	binary.BigEndian.PutUint16(ip[10:], ^sum(ip[:20], 0))
	u := ip[20:]
	binary.BigEndian.PutUint16(u[0:], sport)
	binary.BigEndian.PutUint16(u[2:], 9)
	binary.BigEndian.PutUint16(u[4:], uint16(8+payload))
	u[6], u[7] = 0, 0
	binary.BigEndian.PutUint32(u[8:], seq)
	for i := 12; i < len(u); i++ {
		u[i] = byte(seq) ^ byte(i)
	}
	ph := uint32(0)
	for i := 12; i < 20; i += 2 {
		ph += uint32(ip[i])<<8 | uint32(ip[i+1])
	}
	ph += 17 + uint32(len(u))
	cs := ^sum(u, ph)
	if cs == 0 {
		cs = 0xffff
	}
	binary.BigEndian.PutUint16(u[6:], cs)
	return p
}

// udpSeq returns the seq of a frame built by udpFrame (ok false for
// other frames).
func udpSeq(d []byte) (uint32, bool) {
	if len(d) < 14+20+12 || d[12] != 0x08 || d[13] != 0 || d[14+9] != 17 || binary.BigEndian.Uint16(d[14+20+2:]) != 9 {
		return 0, false
	}
	return binary.BigEndian.Uint32(d[14+20+8:]), true
}

func sum(b []byte, s uint32) uint16 {
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return uint16(s)
}

// stream sends frames 0..total-1 built by mk from g in batches of 32,
// one batch per gap, never more than 192 frames ahead of what the sink
// drained (so no ring overflows on a busy CI box), and feeds every
// received frame to seen. It returns when all arrived or after the
// final 3s grace; during(seq) runs after each batch.
func stream(t *testing.T, g, s rings.Port, total uint32, gap time.Duration, mk func(pool *packet.Pool, seq uint32) *packet.Packet, seen func(d []byte) bool, during func(seq uint32)) (got uint32) {
	t.Helper()
	pool := packet.NewPool(nil)
	var b packet.Batch
	drain := func() int {
		n := 0
		for {
			k, _ := s.RecvBatch(pool, &b, packet.MaxBatch)
			if k == 0 {
				return n
			}
			for i := 0; i < b.N; i++ {
				if seen(b.P[i].Data()) {
					got++
				}
			}
			pool.FreeBatch(&b)
			n += k
		}
	}
	for seq := uint32(0); seq < total; {
		for b.N < 32 && seq < total {
			b.Append(mk(pool, seq))
			seq++
		}
		if n, err := g.SendBatch(pool, &b); n == 0 && err != nil {
			t.Fatal(err)
		}
		if during != nil {
			during(seq)
		}
		drain()
		time.Sleep(gap)
		for stall := time.Now(); seq-got > 192 && time.Since(stall) < 3*time.Second; {
			if drain() == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	}
	for deadline := time.Now().Add(3 * time.Second); got < total && time.Now().Before(deadline); {
		if drain() == 0 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	return got
}

// waitFlow sends probe frames from g until one arrives at s (flowbox is
// forwarding) or 5s pass.
func waitFlow(t *testing.T, g, s rings.Port, probe func(pool *packet.Pool) *packet.Packet, isProbe func(d []byte) bool) bool {
	t.Helper()
	pool := packet.NewPool(nil)
	var b packet.Batch
	for i := 0; i < 100; i++ {
		b.Append(probe(pool))
		g.SendBatch(pool, &b)
		time.Sleep(50 * time.Millisecond)
		up := false
		for {
			n, _ := s.RecvBatch(pool, &b, packet.MaxBatch)
			if n == 0 {
				break
			}
			for j := 0; j < b.N; j++ {
				up = up || isProbe(b.P[j].Data())
			}
			pool.FreeBatch(&b)
		}
		if up {
			return true
		}
	}
	return false
}

// udpEcho sends every datagram back to its sender until srv is closed,
// counting them in served (if not nil).
func udpEcho(srv *net.UDPConn, served *atomic.Int64) {
	buf := make([]byte, 2048)
	for {
		n, from, err := srv.ReadFromUDP(buf)
		if err != nil {
			return
		}
		if served != nil {
			served.Add(1)
		}
		srv.WriteToUDP(buf[:n], from)
	}
}
