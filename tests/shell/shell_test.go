// Package shell holds end-to-end tests of `flowbox run -p` and `flowbox
// shell`: the real binary, a real socket, a pseudo-terminal.
package shell

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"flowbox/tests/testbin"

	"github.com/creack/pty"
)

var flowboxBin string

// testbin.Main's directory is world-readable: one test runs the binary as nobody.
func TestMain(m *testing.M) { testbin.Main(m, testbin.Flowbox, &flowboxBin) }

// appliance is a background `flowbox run`.
type appliance struct {
	cmd    *exec.Cmd
	sock   string
	dir    string
	conf   string
	stderr *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// run starts `flowbox run -p SOCK [extra...] conf.click` and waits for the
// socket.
func run(t *testing.T, conf string, extra ...string) *appliance {
	t.Helper()
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755) // t.TempDir's parent: nobody must reach the socket
	a := &appliance{sock: filepath.Join(dir, "fb.sock"), dir: dir, conf: filepath.Join(dir, "conf.click"), stderr: &syncBuffer{}}
	if err := os.WriteFile(a.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"run", "--pin=false", "-p", a.sock}, extra...)
	a.cmd = exec.Command(flowboxBin, append(args, a.conf)...)
	a.cmd.Dir = dir
	a.cmd.Stderr = a.stderr
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { a.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			a.cmd.Process.Kill()
			<-done
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if fi, err := os.Stat(a.sock); err == nil && fi.Mode()&os.ModeSocket != 0 && strings.Contains(a.stderr.String(), "control socket") {
			return a
		}
		if time.Now().After(deadline) {
			t.Fatalf("socket never appeared; stderr:\n%s", a.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// shell runs `flowbox shell -s SOCK args...` and returns stdout, stderr
// and the exit status.
func (a *appliance) shell(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(flowboxBin, append([]string{"shell", "-s", a.sock}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = append(os.Environ(), "FLOWBOX_HISTORY=-")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("flowbox shell %v did not finish", args)
	}
	return out.String(), errb.String(), cmd.ProcessState.ExitCode()
}

const conf = "src :: InfiniteSource(BURST 8) -> c :: Counter -> q :: Queue(1000) -> u :: Unqueue(BURST 64) -> d :: Discard;\n"

func TestShellDashC(t *testing.T) {
	a := run(t, conf)
	out, errs, code := a.shell(t, "", "-c", "read src.burst; read q.capacity")
	if code != 0 || out != "8\n1000\n" || errs != "" {
		t.Errorf("-c reads: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	// A failing command: one error line, the rest still runs, status 1.
	out, errs, code = a.shell(t, "", "-c", "read nosuch.count; write q.capacity 500; read q.capacity; frob")
	if code != 1 || out != "500\n" {
		t.Errorf("exit %d, stdout %q", code, out)
	}
	want := "error: No element named 'nosuch'\nerror: unknown command 'frob' (type 'help' for the list)\n"
	if errs != want {
		t.Errorf("stderr %q, want %q", errs, want)
	}
	// Scripts on stdin (not a terminal): one command a line, # comments.
	out, errs, code = a.shell(t, "# a script\nread src.burst\n\nshow elements\n")
	if code != 0 || !strings.HasPrefix(out, "8\n#") || !strings.Contains(out, "Unqueue") {
		t.Errorf("script: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	// ... and from a file; `quit` ends it.
	script := filepath.Join(a.dir, "s.fb")
	os.WriteFile(script, []byte("read q.capacity\nquit\nread src.burst\n"), 0o644)
	out, _, code = a.shell(t, "", script)
	if code != 0 || out != "500\n" {
		t.Errorf("script file: exit %d, stdout %q", code, out)
	}
	// Relative file names are the shell's: pcap from the shell's cwd.
	wd := t.TempDir()
	cmd := exec.Command(flowboxBin, "shell", "-s", a.sock, "-c", "pcap c[0] cap.pcap 5")
	cmd.Dir = wd
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pcap: %v %s", err, b)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if fi, err := os.Stat(filepath.Join(wd, "cap.pcap")); err == nil && fi.Size() == 24+5*(16+69) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("cap.pcap was not written in the shell's directory")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// No server: a clear error.
	_, errs, code = (&appliance{sock: filepath.Join(a.dir, "none.sock")}).shell(t, "", "-c", "show elements")
	if code != 1 || !strings.Contains(errs, "cannot connect") || strings.Count(errs, "\n") != 1 {
		t.Errorf("no server: exit %d, stderr %q", code, errs)
	}
}

// term drives an interactive shell on a pseudo-terminal.
type term struct {
	t    *testing.T
	f    *os.File
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	seen int
}

func startTerm(t *testing.T, a *appliance, hist string) *term {
	cmd := exec.Command(flowboxBin, "shell", "-s", a.sock)
	cmd.Env = append(os.Environ(), "FLOWBOX_HISTORY="+hist, "TERM=xterm")
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 140})
	if err != nil {
		t.Fatal(err)
	}
	tm := &term{t: t, f: f, cmd: cmd}
	go func() {
		r := bufio.NewReader(f)
		buf := make([]byte, 4096)
		for {
			n, err := r.Read(buf)
			tm.mu.Lock()
			tm.out.Write(buf[:n])
			tm.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { f.Close(); cmd.Process.Kill(); cmd.Wait() })
	return tm
}

// expect waits for re to match the output after what was already seen.
func (tm *term) expect(re string) string {
	tm.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(10 * time.Second)
	for {
		tm.mu.Lock()
		s := tm.out.String()[tm.seen:]
		if loc := rx.FindStringIndex(s); loc != nil {
			tm.seen += loc[1]
			tm.mu.Unlock()
			return s[:loc[1]]
		}
		tm.mu.Unlock()
		if time.Now().After(deadline) {
			tm.t.Fatalf("timed out waiting for %q; output since last match:\n%q", re, s)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (tm *term) send(s string) { tm.f.Write([]byte(s)) }

func (tm *term) exit() int {
	tm.t.Helper()
	done := make(chan struct{})
	go func() { tm.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		tm.t.Fatal("the shell did not exit")
	}
	return tm.cmd.ProcessState.ExitCode()
}

func TestInteractiveShellOnAPty(t *testing.T) {
	a := run(t, conf)
	hist := filepath.Join(t.TempDir(), "history")
	tm := startTerm(t, a, hist)
	tm.expect(`flowbox> `)
	// Tab on an empty word lists every element (a newcomer's first Tab).
	tm.send("read \t")
	tm.expect(`(?s)c\.\s+.*d\.\s+.*q\.\s+.*src\.\s+.*u\.`)
	tm.send("sr\t")
	tm.expect(`read src\.`)
	tm.send("bu\t")
	tm.expect(`read src\.burst`)
	tm.send("\r")
	tm.expect(`\r\n8\r\n`)
	// A bad command prints one error line and the shell goes on.
	tm.send("show nonsense\r")
	tm.expect(`error: unknown command 'show nonsense' \(try: [a-z, ]+\)\r\n`)
	tm.send("write q.capacity x\r")
	tm.expect(`error: CAPACITY: invalid number\r\n`)
	tm.send("sh\tth\t\r")
	tm.expect(`thread 0: 5 elements`)
	// top refreshes until a key is pressed.
	tm.send("top\r")
	tm.expect(`flowbox top: 5 elements`)
	tm.expect(`ELEMENT\s+CLASS\s+RX pkt/s`)
	tm.expect(`press any key to leave top`)
	tm.expect(`flowbox top: 5 elements`) // a second frame
	tm.send("x")
	tm.expect(`flowbox> `)
	// Tracing, then leaving.
	tm.send("trace add 1\r")
	tm.expect(`tracing the next 1`)
	tm.send("show trace\r")
	tm.expect(`Packet 1`)
	tm.send("quit\r")
	if code := tm.exit(); code != 0 {
		t.Errorf("exit status %d", code)
	}
	h, err := os.ReadFile(hist)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(h), "\n") {
		lines = append(lines, strings.TrimSpace(l))
	}
	for _, w := range []string{"read src.burst", "show nonsense", "show threads", "top", "quit"} {
		if !strings.Contains("\n"+strings.Join(lines, "\n")+"\n", "\n"+w+"\n") {
			t.Errorf("history lacks %q:\n%s", w, h)
		}
	}
	// A new session has the history: Up twice recalls "show trace".
	tm2 := startTerm(t, a, hist)
	tm2.expect(`flowbox> `)
	tm2.send("\x1b[A\x1b[A\r")
	tm2.expect(`Packet 1`)
	tm2.send("\x04") // Ctrl-D leaves
	if code := tm2.exit(); code != 0 {
		t.Errorf("exit status after Ctrl-D %d", code)
	}
}

func TestSocketRefusesOtherUsers(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run a client as another uid")
	}
	a := run(t, conf)
	nobody := func() (string, int) {
		cmd := exec.Command(flowboxBin, "shell", "-s", a.sock, "-c", "read q.capacity")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		cmd.Env = []string{"FLOWBOX_HISTORY=-", "HOME=/"}
		cmd.Dir = "/"
		out, _ := cmd.CombinedOutput()
		return string(out), cmd.ProcessState.ExitCode()
	}
	// The socket file is 0600: the kernel refuses the connection.
	out, code := nobody()
	if code != 1 || !strings.Contains(out, "permission denied") || strings.Contains(out, "1000") {
		t.Errorf("as nobody with mode 0600: exit %d, output %q", code, out)
	}
	// Even if the file mode is opened up, the server checks the peer's
	// uid and answers 530.
	if err := os.Chmod(a.sock, 0o666); err != nil {
		t.Fatal(err)
	}
	out, code = nobody()
	if code != 1 || !strings.Contains(out, "Permission denied: uid 65534 may not use this control socket") {
		t.Errorf("as nobody with mode 0666: exit %d, output %q", code, out)
	}
	// root (and the owner) still get in.
	if out, _, code := a.shell(t, "", "-c", "read q.capacity"); code != 0 || out != "1000\n" {
		t.Errorf("as root: exit %d, %q", code, out)
	}
}

func TestSIGHUPReloadsTheFile(t *testing.T) {
	a := run(t, conf)
	next := strings.Replace(conf, "-> d :: Discard", "-> n :: Null -> d :: Discard", 1)
	if err := os.WriteFile(a.conf, []byte(next), 0o644); err != nil {
		t.Fatal(err)
	}
	before, _, _ := a.shell(t, "", "-c", "read c.count")
	a.cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(a.stderr.String(), "reloaded") {
		if time.Now().After(deadline) {
			t.Fatalf("no reload; stderr:\n%s", a.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	out, errs, code := a.shell(t, "", "-c", "read n.class; read c.count")
	lines := strings.Split(out, "\n")
	if code != 0 || lines[0] != "Null" {
		t.Fatalf("after SIGHUP: exit %d, %q %q", code, out, errs)
	}
	if len(lines[1]) < len(strings.TrimSpace(before)) {
		t.Errorf("Counter restarted across the reload: %s then %s", before, lines[1])
	}
	// A broken file: the reload fails, the running graph stays.
	os.WriteFile(a.conf, []byte("src :: InfiniteSource -> x :: Nope -> Discard;\n"), 0o644)
	a.cmd.Process.Signal(syscall.SIGHUP)
	for !strings.Contains(a.stderr.String(), "running configuration unchanged") {
		if time.Now().After(deadline) {
			t.Fatalf("no failed reload; stderr:\n%s", a.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if out, _, _ := a.shell(t, "", "-c", "read n.class"); out != "Null\n" {
		t.Errorf("after a failed SIGHUP reload: %q", out)
	}
}

func TestMetricsEndpoint(t *testing.T) {
	a := run(t, conf, "--metrics", "127.0.0.1:0")
	// The metrics line may follow the control-socket line run() waited for.
	var m []string
	for deadline := time.Now().Add(5 * time.Second); m == nil; time.Sleep(10 * time.Millisecond) {
		m = regexp.MustCompile(`metrics at (http://\S+)`).FindStringSubmatch(a.stderr.String())
		if m == nil && time.Now().After(deadline) {
			t.Fatalf("no metrics address; stderr:\n%s", a.stderr.String())
		}
	}
	resp, err := http.Get(m[1])
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, w := range []string{`flowbox_output_packets_total{class="Counter",element="c",port="0"}`, `flowbox_element_drops_total{class="Queue",element="q"}`} {
		if !strings.Contains(string(body), w) {
			t.Errorf("metrics lack %s", w)
		}
	}
}

func TestGraphCommand(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "c.click")
	os.WriteFile(f, []byte(conf), 0o644)
	out, err := exec.Command(flowboxBin, "graph", f).Output()
	if err != nil || !strings.Contains(string(out), "digraph flowbox") || !strings.Contains(string(out), "style=dashed") {
		t.Errorf("graph: %v\n%s", err, out)
	}
	// Without Graphviz, --svg says how to install it.
	cmd := exec.Command(flowboxBin, "graph", "--svg", filepath.Join(dir, "g.svg"), f)
	cmd.Env = []string{"PATH=" + dir}
	b, _ := cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != 1 || !strings.Contains(string(b), "apt-get install graphviz") {
		t.Errorf("graph --svg without dot: %q", b)
	}
	if _, err := exec.LookPath("dot"); err == nil {
		svg := filepath.Join(dir, "g2.svg")
		if b, err := exec.Command(flowboxBin, "graph", "--svg", svg, f).CombinedOutput(); err != nil {
			t.Errorf("graph --svg: %v %s", err, b)
		} else if s, _ := os.ReadFile(svg); !bytes.Contains(s, []byte("<svg")) {
			t.Error("no SVG written")
		}
	}
}

func TestHelpListsEveryFlag(t *testing.T) {
	out, _ := exec.Command(flowboxBin, "run", "--help").CombinedOutput()
	for _, w := range []string{"-p PATH", "-control tcp:127.0.0.1:PORT", "-metrics ADDR", "SIGHUP"} {
		if !strings.Contains(string(out), w) {
			t.Errorf("run --help lacks %q", w)
		}
	}
	out, _ = exec.Command(flowboxBin, "shell", "--help").CombinedOutput()
	for _, w := range []string{"-s PATH", "-c COMMANDS", "-history FILE", "FLOWBOX_SOCKET", "./fb.sock"} {
		if !strings.Contains(string(out), w) {
			t.Errorf("shell --help lacks %q", w)
		}
	}
	readme, _ := os.ReadFile("../../README.md")
	for _, w := range []string{"`-p PATH`", "`--control tcp:127.0.0.1:PORT`", "`--metrics ADDR`", "`-s PATH`", "`-c 'CMD; CMD'`", "`--history FILE`", "FLOWBOX_SOCKET"} {
		if !bytes.Contains(readme, []byte(w)) {
			t.Errorf("README.md lacks %s", w)
		}
	}
}

// A failing `config load` prints one readable "error:" line: the
// FILE:LINE:COL messages without the source lines and carets under them;
// `cd` to a missing directory says so.
func TestShellErrorsAreOneReadableLine(t *testing.T) {
	a := run(t, conf)
	bad := filepath.Join(a.dir, "bad.click")
	os.WriteFile(bad, []byte("src :: InfiniteSource -> Discard;\nbogus ->\n"), 0o644)
	_, errs, code := a.shell(t, "", "-c", "config load "+bad)
	if code != 1 || strings.Count(errs, "\n") != 1 || !strings.HasPrefix(errs, "error: config load failed, running configuration unchanged: "+bad+":2:") ||
		strings.Contains(errs, "^") || strings.Contains(errs, "  ") {
		t.Errorf("config load of a broken file: exit %d, stderr %q", code, errs)
	}
	_, errs, code = a.shell(t, "", "-c", "cd "+filepath.Join(a.dir, "nope"))
	if code != 1 || !strings.HasSuffix(errs, "nope: no such directory\n") {
		t.Errorf("cd to a missing directory: exit %d, stderr %q", code, errs)
	}
}
