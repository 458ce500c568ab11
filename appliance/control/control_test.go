package control

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/gopacket/pcapgo"

	"flowbox/appliance/runtime"
	_ "flowbox/elements/standard"
)

// fixture runs conf under a Runner with a control server on a unix socket.
type fixture struct {
	t      *testing.T
	rn     *runtime.Runner
	srv    *Server
	sock   string
	dir    string
	cancel context.CancelFunc
	done   chan struct{}
}

func start(t *testing.T, conf string, opts ...func(*Options)) *fixture {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "conf.click")
	if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	g, err := ParseConfig(file, []byte(conf), nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := runtime.Build(g, runtime.BuildOptions{Log: func(string) {}})
	if err != nil {
		t.Fatal(err)
	}
	rn := runtime.NewRunner(r, runtime.BuildOptions{Log: func(string) {}})
	o := Options{Runner: rn, ConfigFile: file, Log: func(s string) { t.Log(s) }}
	for _, f := range opts {
		f(&o)
	}
	srv := NewServer(o)
	f := &fixture{t: t, rn: rn, srv: srv, sock: filepath.Join(dir, "fb.sock"), dir: dir, done: make(chan struct{})}
	if err := srv.ListenUnix(f.sock); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	go func() { rn.Run(ctx, runtime.RunOptions{}); close(f.done) }()
	t.Cleanup(f.stop)
	return f
}

func (f *fixture) stop() {
	f.cancel()
	<-f.done
	f.srv.Close()
}

// conn is a raw protocol connection.
type conn struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func (f *fixture) dial() *conn {
	f.t.Helper()
	c, err := net.Dial("unix", f.sock)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { c.Close() })
	cn := &conn{t: f.t, c: c, r: bufio.NewReader(c)}
	if b := cn.line(); b != Banner {
		f.t.Fatalf("banner = %q", b)
	}
	return cn
}

func (c *conn) line() string {
	c.t.Helper()
	c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	l, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("reading reply: %v (got %q)", err, l)
	}
	if !strings.HasSuffix(l, "\r\n") {
		c.t.Fatalf("reply line %q does not end in CRLF", l)
	}
	return strings.TrimSuffix(l, "\r\n")
}

func (c *conn) send(s string) { c.c.Write([]byte(s)) }

// data reads "DATA n" and the n bytes.
func (c *conn) data() string {
	c.t.Helper()
	l := c.line()
	n, err := strconv.Atoi(strings.TrimPrefix(l, "DATA "))
	if err != nil {
		c.t.Fatalf("want DATA line, got %q", l)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(c.r, buf); err != nil {
		c.t.Fatal(err)
	}
	return string(buf)
}

// expect sends a line and checks the reply lines.
func (c *conn) expect(send string, want ...string) {
	c.t.Helper()
	c.send(send + "\n")
	for _, w := range want {
		if got := c.line(); got != w {
			c.t.Errorf("%q: got %q, want %q", send, got, w)
		}
	}
}

// cmd runs a shell command through the CMD verb.
func (c *conn) cmd(line string) (string, string) {
	c.t.Helper()
	c.send("CMD " + line + "\n")
	first := c.line()
	if first == "200 OK" {
		return c.data(), ""
	}
	for strings.HasPrefix(first[3:], "-") {
		first = c.line()
	}
	return "", first
}

const pipeline = "src :: InfiniteSource(LIMIT 5, STOP false) -> c :: Counter -> q :: Queue(3) -> Idle;\n"

func TestClickProtocol(t *testing.T) {
	f := start(t, pipeline)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if v, _ := f.rn.Read("q.length", ""); v == "3" {
			break
		}
	}
	c := f.dial()
	// The transcript of reference/click.md §b, line for line.
	c.expect("READ c.count", "200 Read handler 'c.count' OK")
	if d := c.data(); d != "3" {
		t.Errorf("c.count = %q, want 3 (the source sleeps while Queue(3) is full)", d)
	}
	c.expect("WRITE c.reset", "200 Write handler 'c.reset' OK")
	c.expect("CHECKWRITE c.reset", "200 Write handler 'c.reset' OK")
	c.expect("CHECKREAD c.count", "200 Read handler 'c.count' OK")
	c.expect("CHECKREAD c.reset", "511 Handler 'c.reset' is not readable")
	c.expect("CHECKWRITE c.count", "511 Handler 'c.count' is not writable")
	c.expect("READ nosuch.count", "510 No element named 'nosuch'")
	c.expect("READ c.nosuch", "511 No handler named 'c.nosuch'")
	c.expect("WRITE q.capacity abc", "520-Write handler 'q.capacity' error:", "520 CAPACITY: invalid number")
	c.expect("READ list", "200 Read handler 'list' OK")
	if d := c.data(); d != "4\nsrc\nc\nq\nIdle@4\n" {
		t.Errorf("list = %q", d)
	}
	c.expect("READ c.ports", "200 Read handler 'c.ports' OK")
	if d := c.data(); d != "1 input\npush~\t-\tsrc [0]\n1 output\npush~\t-\t[0] q\n" {
		t.Errorf("c.ports = %q", d)
	}
	c.expect("READ 2.class", "200 Read handler '2.class' OK") // N.handler, 1-based
	if d := c.data(); d != "Counter" {
		t.Errorf("2.class = %q", d)
	}
	c.expect("FOO", "501 Command 'FOO' unimplemented")
	c.expect("LLRPC c#1234", "501 Command 'LLRPC' unimplemented")
	c.expect("READ", "500 Wrong number of arguments")
	c.expect("CHECKREAD", "500 Wrong number of arguments")
	c.expect("WRITEDATA q.capacity x", "500 Syntax error: expected a byte count")
	// Data commands: the body follows the line.
	c.send("WRITEDATA q.capacity 2\n10")
	if l := c.line(); l != "200 Write handler 'q.capacity' OK" {
		t.Errorf("WRITEDATA: %q", l)
	}
	c.send("READDATA q.capacity 0\n")
	if l := c.line(); l != "200 Read handler 'q.capacity' OK" {
		t.Errorf("READDATA: %q", l)
	}
	if d := c.data(); d != "10" {
		t.Errorf("capacity after WRITEDATA = %q", d)
	}
	c.send("WRITEUNTIL q.capacity END\n7\nEND\n")
	if l := c.line(); l != "200 Write handler 'q.capacity' OK" {
		t.Errorf("WRITEUNTIL: %q", l)
	}
	c.send("READUNTIL q.capacity\n.\n")
	if l := c.line(); l != "200 Read handler 'q.capacity' OK" {
		t.Errorf("READUNTIL: %q", l)
	}
	if d := c.data(); d != "7" {
		t.Errorf("capacity after WRITEUNTIL = %q", d)
	}
	c.send(fmt.Sprintf("WRITEDATA q.capacity %d\n", maxData+1))
	c.send(strings.Repeat("x", maxData+1))
	if l := c.line(); l != "521 Data too big" {
		t.Errorf("oversized WRITEDATA: %q", l)
	}
	c.expect("READ version", "200 Read handler 'version' OK")
	if d := c.data(); d != runtime.Version {
		t.Errorf("version = %q", d)
	}
	// The command protocol on the same socket.
	out, e := c.cmd("read src.limit")
	if e != "" || out != "5" {
		t.Errorf("CMD read src.limit = %q, %q", out, e)
	}
	if _, e := c.cmd("read nosuch.x"); e != "510 No element named 'nosuch'" {
		t.Errorf("CMD read nosuch.x error = %q", e)
	}
	if _, e := c.cmd("read c.nosuch"); e != "511 No handler named 'c.nosuch'" {
		t.Errorf("CMD read c.nosuch error = %q", e)
	}
	if _, e := c.cmd("write q.capacity abc"); e != "520 CAPACITY: invalid number" {
		t.Errorf("CMD write error = %q", e)
	}
	if _, e := c.cmd("frobnicate"); e != "500 unknown command 'frobnicate' (type 'help' for the list)" {
		t.Errorf("unknown command error = %q", e)
	}
	if _, e := c.cmd("read"); e != "500 usage: read ELEM.HANDLER [ARGS]" {
		t.Errorf("usage error = %q", e)
	}
	if _, e := c.cmd("config load " + filepath.Join(f.dir, "missing.click")); !strings.HasPrefix(e, "590 config load failed") {
		t.Errorf("config load of a missing file = %q", e)
	}
	c.send("COMPLETE read c.co\n")
	c.line()
	if d := c.data(); d != "words\nc.config\nc.count\nc.count_call" {
		t.Errorf("COMPLETE read c.co = %q", d)
	}
	c.expect("QUIT", "200 Goodbye!")
	if _, err := c.r.ReadString('\n'); err != io.EOF {
		t.Errorf("connection still open after QUIT: %v", err)
	}
	// The stop handler ends the run.
	c2 := f.dial()
	c2.expect("WRITE stop", "200 Write handler 'stop' OK")
	select {
	case <-f.done:
	case <-time.After(5 * time.Second):
		t.Fatal("write stop did not end the run")
	}
}

func TestSocketIsPrivate(t *testing.T) {
	f := start(t, pipeline)
	fi, err := os.Stat(f.sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want 0600", fi.Mode().Perm())
	}
	// A second server on the same path is refused while the first lives.
	s2 := NewServer(Options{Runner: f.rn})
	defer s2.Close()
	if err := s2.ListenUnix(f.sock); err == nil || !strings.Contains(err.Error(), "another process") {
		t.Errorf("second listener: %v", err)
	}
	if _, err := s2.ListenControl("tcp:0.0.0.0:0"); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("non-loopback TCP control: %v", err)
	}
	addr, err := s2.ListenControl("tcp:127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if l, _ := bufio.NewReader(c).ReadString('\n'); l != Banner+"\r\n" {
		t.Errorf("TCP banner %q", l)
	}
}

func TestCommands(t *testing.T) {
	f := start(t, "src :: InfiniteSource(BURST 8) -> c :: Counter -> q :: Queue(100) -> u :: Unqueue(BURST 64) -> d :: Discard;\n")
	c := f.dial()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if out, _ := c.cmd("read d.count"); out != "0" && out != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no traffic")
		}
		time.Sleep(5 * time.Millisecond)
	}
	contains := func(cmd string, want ...string) string {
		t.Helper()
		out, e := c.cmd(cmd)
		if e != "" {
			t.Errorf("%s: error %s", cmd, e)
			return ""
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: output lacks %q:\n%s", cmd, w, out)
			}
		}
		return out
	}
	contains("help", "show elements", "config load", "trace add", "pcap ELEM[PORT] FILE [N]", "lua EXPR")
	contains("help read", "usage: read ELEM.HANDLER [ARGS]")
	contains("help show", "show threads")
	contains("show elements", "NAME", "src", "InfiniteSource", "q", "Queue", "5    d")
	contains("show classes", "Counter", "counts packets")
	contains("show graph", "src [0] -> [0] c", "q [0] -> [0] u  (pull)")
	contains("show threads", "thread 0: 5 elements: src* c q u* d")
	contains("show ports", "[0] c", "src [0]", "push", "pull")
	contains("show errors") // no drops yet, or the queue's drops
	contains("doc Queue", "SYNOPSIS", "Queue([CAPACITY])", "PORT COUNT")
	contains("show config", "InfiniteSource")
	contains("write c.reset")
	contains("lua x = 2; return x * 21", "42")
	if out := contains("lua read('q.capacity') .. '!'"); out != "100!\n" {
		t.Errorf("lua read = %q", out)
	}
	contains("lua write('q.capacity', 50)")
	if out, _ := c.cmd("read q.capacity"); out != "50" {
		t.Errorf("capacity after lua write = %q", out)
	}
	// Lua errors name their source once: "lua:LINE: message".
	for _, x := range []struct{ cmd, want string }{
		{"lua 1 +", "520 lua:1: syntax error near '1'"},
		{"lua x = ", "520 lua:1: syntax error at EOF"},
		{"lua error('boom')", "520 lua:1: boom"},
		{"lua nil .. 1", "520 lua:1: cannot perform concat operation between nil and number"},
		{"lua read('nope.x')", "520 lua:1: read nope.x: No element named 'nope'"},
		{"lua error('bare', 0)", "520 lua: bare"},
	} {
		if _, e := c.cmd(x.cmd); e != x.want {
			t.Errorf("%s: error %q, want %q", x.cmd, e, x.want)
		}
	}
	// Trace: full paths through push and pull edges. Packets already
	// inside the graph when tracing starts are followed from where they
	// are; with more packets traced than the queue holds, some start at
	// the source.
	contains("trace add 150", "tracing the next 150")
	full := regexp.MustCompile(`src \[0\] -> \[0\] c .*\n.*c \[0\] -> \[0\] q .*\n.*q \[0\] \(pulled\) -> \[0\] u .*\n.*u \[0\] -> \[0\] d `)
	deadline = time.Now().Add(10 * time.Second)
	for {
		out, _ := c.cmd("show trace")
		if full.MatchString(out) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no packet traced from src to d:\n%s", out)
		}
		time.Sleep(5 * time.Millisecond)
	}
	contains("trace clear")
	if out, _ := c.cmd("show trace"); !strings.Contains(out, "no trace") {
		t.Errorf("after trace clear: %q", out)
	}
	if _, e := c.cmd("trace add x"); !strings.Contains(e, "N must be a positive number") {
		t.Errorf("trace add x: %q", e)
	}
	if _, e := c.cmd("trace add 1 tcp dst port"); !strings.HasPrefix(e, "500 bad filter") {
		t.Errorf("bad filter: %q", e)
	}
	// A filter that never matches Click's default text packet.
	contains("trace add 1 tcp dst port 80")
	time.Sleep(20 * time.Millisecond)
	if out, _ := c.cmd("show trace"); !strings.Contains(out, "waiting for 1 packet") {
		t.Errorf("filtered trace caught a non-TCP packet:\n%s", out)
	}
	contains("trace clear")
	// pcap: tap an edge and read the file back.
	file := filepath.Join(f.dir, "c.pcap")
	contains("pcap c[0] "+file+" 25", "capturing the next 25")
	deadline = time.Now().Add(5 * time.Second)
	for {
		if out, _ := c.cmd("show pcap"); strings.Contains(out, "no pcap capture running") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("capture did not finish")
		}
		time.Sleep(5 * time.Millisecond)
	}
	pf, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	pr, err := pcapgo.NewReader(pf)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		data, _, err := pr.ReadPacketData()
		if err != nil {
			break
		}
		if len(data) != 69 {
			t.Errorf("packet %d has %d bytes, want 69", n, len(data))
		}
		n++
	}
	pf.Close()
	if n != 25 {
		t.Errorf("pcap has %d packets, want 25", n)
	}
	// The writer removes the tap once the file is complete.
	for deadline := time.Now().Add(5 * time.Second); tapOf(f, "c") != nil; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("pcap tap left installed after the capture finished")
		}
	}
	if _, e := c.cmd("pcap nosuch " + file); e != "510 No element named 'nosuch'" {
		t.Errorf("pcap nosuch: %q", e)
	}
	if _, e := c.cmd("pcap c[3] " + file); !strings.Contains(e, "has no output 3") {
		t.Errorf("pcap c[3]: %q", e)
	}
	if _, e := c.cmd("pcap q " + file); !strings.Contains(e, "pull output") {
		t.Errorf("pcap on a pull output: %q", e)
	}
	contains("pcap c "+file+" 1000000", "capturing")
	contains("pcap stop", "stopped 1 capture")
	// top and show graph --dot need counters; they are removed afterwards.
	contains("top", "ELEMENT", "RX pkt/s", "src", "InfiniteSource")
	contains("top stop")
	dot := contains("show graph --dot", "digraph flowbox", "n0 -> n1", "pkt/s", "style=dashed")
	_ = dot
	if tapOf(f, "src") != nil {
		t.Error("counting tap left installed after top stop and show graph --dot")
	}
	contains("clear counters")
	if out, _ := c.cmd("read c.count"); out == "" {
		t.Error("read c.count after clear counters failed")
	}
	contains("show pcap", "no pcap capture")
	if _, e := c.cmd("show"); !strings.Contains(e, "show what?") {
		t.Errorf("bare show: %q", e)
	}
	if _, e := c.cmd("doc NoSuchClass"); !strings.Contains(e, "no element class 'NoSuchClass'") {
		t.Errorf("doc NoSuchClass: %q", e)
	}
	if _, e := c.cmd(`write c.reset "unterminated`); !strings.Contains(e, "unterminated quote") {
		t.Errorf("unterminated quote: %q", e)
	}
}

// tapOf reads an element's output 0 tap on its worker thread.
func tapOf(f *fixture, elem string) (tap any) {
	r := f.rn.Router()
	e := r.Node(elem).Elem
	r.OnThread(e, func() {
		if t := e.Core().Output(0).Tap; t != nil {
			tap = t
		}
	})
	return tap
}

func TestCompleteFromLiveState(t *testing.T) {
	f := start(t, pipeline)
	sess := &Session{srv: f.srv}
	cases := []struct {
		line, kind string
		want       []string
	}{
		{"", "words", nil}, // checked below: every first word
		{"sh", "words", []string{"show"}},
		{"show ", "words", []string{"classes", "config", "elements", "errors", "graph", "pcap", "ports", "threads", "trace"}},
		{"show e", "words", []string{"elements", "errors"}},
		{"read ", "words", []string{"Idle@4.", "c.", "classes", "config", "flatconfig", "list", "q.", "requirements", "src.", "stop", "version"}},
		{"read q.c", "words", []string{"q.capacity", "q.class", "q.config"}},
		{"doc Que", "words", []string{"Queue"}},
		{"pcap s", "words", []string{"src"}},
		{"pcap src ", "files", nil},
		{"config load ", "files", nil},
		{"help config ", "words", []string{"diff", "load"}},
		{"trace ", "words", []string{"add", "clear"}},
	}
	for _, tc := range cases {
		kind, got := f.srv.Complete(sess, tc.line)
		if kind != tc.kind {
			t.Errorf("Complete(%q) kind = %s, want %s", tc.line, kind, tc.kind)
		}
		if tc.want == nil {
			continue
		}
		// Other packages may register more commands: check ours are there.
		for _, w := range tc.want {
			found := false
			for _, g := range got {
				found = found || g == w
			}
			if !found {
				t.Errorf("Complete(%q) = %v, lacks %q", tc.line, got, w)
			}
		}
	}
	_, first := f.srv.Complete(sess, "")
	for _, w := range []string{"help", "read", "write", "show", "top", "trace", "pcap", "config", "clear", "doc", "lua", "quit"} {
		if !strings.Contains(" "+strings.Join(first, " ")+" ", " "+w+" ") {
			t.Errorf("first-word completion lacks %q: %v", w, first)
		}
	}
}

// zero-loss configurations: the same source, queue and sinks, with
// elements added and removed around them.
var reloadConfs = []string{
	"src :: InfiniteSource(LIMIT %d, BURST 16, STOP true) -> q :: Queue(256) -> u :: Unqueue(BURST 64) -> c :: Counter -> d :: Discard;\n",
	"src :: InfiniteSource(LIMIT %d, BURST 16, STOP true) -> n :: Null -> q :: Queue(512) -> u :: Unqueue(BURST 64) -> c :: Counter -> d :: Discard;\n",
	"src :: InfiniteSource(LIMIT %d, BURST 16, STOP true) -> q :: Queue(256) -> u :: Unqueue(BURST 64) -> p :: Paint(3) -> c :: Counter -> d :: Discard;\n",
}

func TestConfigLoadUnderTrafficLosesNoPacket(t *testing.T) {
	const total = 3000000
	f := start(t, fmt.Sprintf(reloadConfs[0], total))
	c := f.dial()
	files := make([]string, len(reloadConfs))
	for i, conf := range reloadConfs {
		files[i] = filepath.Join(f.dir, fmt.Sprintf("conf%d.click", i))
		os.WriteFile(files[i], []byte(fmt.Sprintf(conf, total)), 0o644)
	}
	swaps := 0
	for i := 1; swaps < 12; i++ {
		out, e := c.cmd("config load " + files[i%len(files)])
		if e != "" {
			select {
			case <-f.done:
				t.Logf("run finished after %d swaps", swaps)
			default:
				t.Fatalf("config load: %s", e)
			}
			break
		}
		if !strings.HasPrefix(out, "swapped in") {
			t.Fatalf("config load said %q", out)
		}
		swaps++
		if d, _ := c.cmd("read d.count"); d == strconv.Itoa(total) {
			break
		}
	}
	var cnt string
	select {
	case <-f.done:
	case <-time.After(60 * time.Second):
		cnt, _ = c.cmd("read c.count")
		t.Fatalf("run did not finish (c.count %s)", cnt)
	}
	r := f.rn.Router()
	for _, h := range []string{"c.count", "d.count", "src.count"} {
		if v, _ := r.Read(h, ""); v != strconv.Itoa(total) {
			t.Errorf("after %d swaps %s = %s, want %d", swaps, h, v, total)
		}
	}
	// Unqueue drains faster than the source fills: no queue drop hides
	// (or excuses) a loss.
	if v, _ := r.Read("q.drops", ""); v != "0" {
		t.Errorf("q.drops = %s", v)
	}
	if swaps < 3 || f.rn.Swaps != swaps {
		t.Errorf("swaps: %d commands, runner counted %d; want at least 3 while traffic ran", swaps, f.rn.Swaps)
	}
}

func TestConfigLoadRollsBackOnBrokenConfig(t *testing.T) {
	f := start(t, "src :: InfiniteSource(BURST 4) -> c :: Counter -> d :: Discard;\n")
	c := f.dial()
	bad := filepath.Join(f.dir, "bad.click")
	os.WriteFile(bad, []byte("src :: InfiniteSource(BURST 4) -> c :: Counter -> x :: NoSuchThing -> d :: Discard;\n"), 0o644)
	before := f.rn.Router()
	// config diff only parses: the unknown class shows as an addition.
	out, e := c.cmd("config diff " + bad)
	if e != "" || !strings.Contains(out, "+ x :: NoSuchThing") {
		t.Errorf("config diff of a bad file: %q %q", out, e)
	}
	_, e = c.cmd("config load " + bad)
	if !strings.HasPrefix(e, "590 config load failed, running configuration unchanged: ") || !strings.Contains(e, "bad.click:1:") || !strings.Contains(e, "NoSuchThing") {
		t.Errorf("broken config load error = %q", e)
	}
	if f.rn.Router() != before || f.rn.Swaps != 0 {
		t.Error("a failed reload replaced the running graph")
	}
	a, _ := c.cmd("read c.count")
	time.Sleep(30 * time.Millisecond)
	b, _ := c.cmd("read c.count")
	if a == b {
		t.Error("the old graph stopped after a failed reload")
	}
	// A good change: diff first, then load; Counter keeps its count.
	good := filepath.Join(f.dir, "good.click")
	os.WriteFile(good, []byte("src :: InfiniteSource(BURST 4) -> c :: Counter -> n :: Null -> d :: Discard;\n"), 0o644)
	out, e = c.cmd("config diff " + good)
	if e != "" || !strings.Contains(out, "+ n :: Null") || !strings.Contains(out, "- c [0] -> [0] d") || !strings.Contains(out, "+ n [0] -> [0] d") {
		t.Errorf("config diff = %q %q", out, e)
	}
	out, e = c.cmd("config load " + good)
	if e != "" || !strings.Contains(out, "3 kept, 1 added, 0 removed") {
		t.Errorf("config load = %q %q", out, e)
	}
	after, _ := c.cmd("read c.count")
	an, _ := strconv.Atoi(after)
	bn, _ := strconv.Atoi(b)
	if an < bn {
		t.Errorf("Counter lost its count across the reload: %d -> %d", bn, an)
	}
	// A bare `config load` reloads the current file (good.click now).
	if out, e := c.cmd("config load"); e != "" || !strings.Contains(out, "4 kept") {
		t.Errorf("bare config load = %q %q", out, e)
	}
}

func TestMetrics(t *testing.T) {
	f := start(t, pipeline)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if v, _ := f.rn.Read("q.length", ""); v == "3" {
			break
		}
	}
	addr, stop, err := ServeMetrics("127.0.0.1:0", f.rn)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, w := range []string{
		`flowbox_output_packets_total{class="InfiniteSource",element="src",port="0"} 3`,
		`flowbox_element_count_total{class="Counter",element="c"} 3`,
		`flowbox_queue_length{class="Queue",element="q"} 3`,
		`flowbox_element_drops_total{class="Queue",element="q"} 0`,
		`flowbox_reconfigurations_total 0`,
	} {
		if !strings.Contains(string(body), w) {
			t.Errorf("metrics lack %q", w)
		}
	}
}

// Click's ControlSocket takes command lines ended by CR, LF or CRLF
// (reference/click.md §b); an oversized WRITEDATA is refused before its
// body is sent.
func TestLineTerminators(t *testing.T) {
	f := start(t, pipeline)
	c := f.dial()
	c.send("READ c.class\rCHECKREAD c.count\r\nCHECKWRITE c.reset\n")
	for _, want := range []string{"200 Read handler 'c.class' OK", "DATA 7", "", "200 Read handler 'c.count' OK", "200 Write handler 'c.reset' OK"} {
		var got string
		if want == "" {
			buf := make([]byte, 7)
			io.ReadFull(c.r, buf)
			if string(buf) != "Counter" {
				t.Errorf("c.class = %q", buf)
			}
			continue
		}
		if got = c.line(); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	// A CR alone, then the LF in a later write: one terminator, not an
	// empty command in between.
	c.send("WRITEUNTIL q.capacity END\r")
	time.Sleep(20 * time.Millisecond)
	c.send("\n12\rEND\r\n")
	if l := c.line(); l != "200 Write handler 'q.capacity' OK" {
		t.Errorf("WRITEUNTIL with CR lines: %q", l)
	}
	c.expect("READ q.capacity", "200 Read handler 'q.capacity' OK")
	if d := c.data(); d != "12" {
		t.Errorf("capacity = %q, want 12", d)
	}
	c.send(fmt.Sprintf("WRITEDATA q.capacity %d\r\n", maxData+1))
	if l := c.line(); l != "521 Data too big" {
		t.Errorf("oversized WRITEDATA: %q", l)
	}
}

// A broken configuration's error is one readable line: the source line
// and caret under each FILE:LINE:COL message are left out.
func TestConfigLoadErrorIsOneLine(t *testing.T) {
	var reloaded atomic.Int32
	f := start(t, "src :: InfiniteSource(BURST 4) -> c :: Counter -> d :: Discard;\n", func(o *Options) {
		o.Reloaded = func(string, runtime.SwapReport) { reloaded.Add(1) }
	})
	c := f.dial()
	err := fmt.Errorf("boot.toml:7: graph.files[0]: Click configuration r.click has errors:\nr.click:64:1: undeclared element 'bogus'\n    bogus ->\n    ^\nr.click:64:7: syntax error\n    bogus ->\n          ^")
	if got, want := oneLine(err), "boot.toml:7: graph.files[0]: Click configuration r.click has errors: r.click:64:1: undeclared element 'bogus'; r.click:64:7: syntax error"; got != want {
		t.Errorf("oneLine =\n%q\nwant\n%q", got, want)
	}
	if _, e := c.cmd("config load"); e != "" || reloaded.Load() != 1 {
		t.Errorf("config load: %q, Reloaded called %d times", e, reloaded.Load())
	}
}
