package shell

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"flowbox/appliance/control"
	"flowbox/appliance/runtime"
	_ "flowbox/elements/standard"
)

// serve runs conf with a control socket and returns a connected client.
func serve(t *testing.T, conf string) *Client {
	t.Helper()
	g, err := control.ParseConfig("t.click", []byte(conf), nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := runtime.Build(g, runtime.BuildOptions{Log: func(string) {}})
	if err != nil {
		t.Fatal(err)
	}
	rn := runtime.NewRunner(r, runtime.BuildOptions{})
	srv := control.NewServer(control.Options{Runner: rn})
	sock := filepath.Join(t.TempDir(), "fb.sock")
	if err := srv.ListenUnix(sock); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { rn.Run(ctx, runtime.RunOptions{}); close(done) }()
	c, err := Dial(sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); cancel(); <-done; srv.Close() })
	return c
}

func TestCompleterUsesLiveState(t *testing.T) {
	c := serve(t, "src :: InfiniteSource(LIMIT 1) -> cnt :: Counter -> Discard;")
	comp := &Completer{Fetch: c.Complete}
	do := func(line string) ([]string, int) {
		out, n := comp.Do([]rune(line), len([]rune(line)))
		var s []string
		for _, r := range out {
			s = append(s, string(r))
		}
		return s, n
	}
	if got, n := do("rea"); !reflect.DeepEqual(got, []string{"d "}) || n != 3 {
		t.Errorf("rea<Tab> = %q, %d", got, n)
	}
	// An element completes to "elem." (no space) so Tab continues into
	// its handlers.
	if got, _ := do("read cn"); !reflect.DeepEqual(got, []string{"t."}) {
		t.Errorf("read cn<Tab> = %q", got)
	}
	if got, n := do("read cnt.byte_"); !reflect.DeepEqual(got, []string{"count", "count_call", "rate"}) || n != 9 {
		t.Errorf("read cnt.byte_<Tab> = %q, %d", got, n)
	}
	if got, _ := do("show el"); !reflect.DeepEqual(got, []string{"ements "}) {
		t.Errorf("show el<Tab> = %q", got)
	}
	if got, _ := do("doc InfiniteS"); !reflect.DeepEqual(got, []string{"ource "}) {
		t.Errorf("doc InfiniteS<Tab> = %q", got)
	}
	if got, _ := do("pcap Dis"); !reflect.DeepEqual(got, []string{"card@3 "}) {
		t.Errorf("pcap Dis<Tab> = %q", got)
	}
	// File names are completed locally.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "router.click"), nil, 0o644)
	os.Mkdir(filepath.Join(dir, "confs"), 0o755)
	if got, _ := do("config load " + dir + "/ro"); !reflect.DeepEqual(got, []string{"uter.click "}) {
		t.Errorf("config load DIR/ro<Tab> = %q", got)
	}
	if got, _ := do("config load " + dir + "/co"); !reflect.DeepEqual(got, []string{"nfs/"}) {
		t.Errorf("config load DIR/co<Tab> = %q", got)
	}
}

func TestClientCommands(t *testing.T) {
	c := serve(t, "src :: InfiniteSource(LIMIT 1) -> cnt :: Counter -> Discard;")
	if v, err := c.Cmd("read src.limit"); err != nil || v != "1" {
		t.Errorf("read src.limit = %q, %v", v, err)
	}
	_, err := c.Cmd("read nope.count")
	re, ok := err.(*ReplyError)
	if !ok || re.Code != 510 || re.Msg != "No element named 'nope'" {
		t.Errorf("read nope.count error = %#v", err)
	}
	if _, err := c.Cmd("two\nlines"); err == nil {
		t.Error("a command with a newline was sent")
	}
	if v, err := c.Read("version"); err != nil || v != runtime.Version {
		t.Errorf("READ version = %q, %v", v, err)
	}
}

func TestSplitCommands(t *testing.T) {
	got := SplitCommands(`read a.b; write x.y "1;2" ; lua print('a;b');show elements`)
	want := []string{"read a.b", ` write x.y "1;2" `, ` lua print('a;b')`, "show elements"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("SplitCommands = %q", got)
	}
}

func TestSocketPathDefault(t *testing.T) {
	t.Setenv("FLOWBOX_SOCKET", "")
	if p := SocketPath(""); p != "./fb.sock" {
		t.Errorf("default socket %q", p)
	}
	t.Setenv("FLOWBOX_SOCKET", "/run/x.sock")
	if p := SocketPath(""); p != "/run/x.sock" {
		t.Errorf("$FLOWBOX_SOCKET ignored: %q", p)
	}
	if p := SocketPath("a.sock"); p != "a.sock" {
		t.Errorf("-s ignored: %q", p)
	}
	// On a booted box (no ./fb.sock) the boot socket is the default.
	t.Setenv("FLOWBOX_SOCKET", "")
	boot := filepath.Join(t.TempDir(), "control.sock")
	os.WriteFile(boot, nil, 0o600)
	old := BootSocket
	BootSocket = boot
	defer func() { BootSocket = old }()
	if p := SocketPath(""); p != boot {
		t.Errorf("booted box default = %q, want %q", p, boot)
	}
}

func TestDialErrors(t *testing.T) {
	_, err := Dial(filepath.Join(t.TempDir(), "none.sock"))
	if err == nil || !strings.Contains(err.Error(), "flowbox run -p") {
		t.Errorf("dialing a missing socket: %v", err)
	}
}
