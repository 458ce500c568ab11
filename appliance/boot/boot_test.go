package boot

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "flowbox/elements/all"
)

func TestDecodeErrorsNameFileLineKey(t *testing.T) {
	for _, c := range []struct{ doc, want string }{
		{"profile = \"x\"\n[graph]\nfilez = [\"a\"]\n", `b.toml:3: graph.filez: unknown key (did you mean "files"?)`},
		{"[graph]\nfiles = [\"a\"]\nthreads = \"two\"\n", "b.toml:3: graph.threads: wrong type: want an integer, got a TOML string"},
		{"[[interface]]\nname = \"a\"\n[[interface]]\nname = \"b\"\nmtu = true\n", "b.toml:5: interface[1].mtu: wrong type: want an integer, got a TOML boolean"},
		{"[[interface]]\nname = \"a\"\n[[interface]]\nname = \"b\"\nmtuu = 1500\n", `b.toml:5: interface[1].mtuu: unknown key (did you mean "mtu"?)`},
		{"[[probe]]\nname = \"p\"\nevery = \"-1m\"\n", `b.toml:3: probe[0].every: negative duration "-1m"`},
		// Durations must be strings: an integer names the line and key.
		{"[lkg]\npromote_after = 30\n", `b.toml:2: lkg.promote_after: wrong type: want a duration string such as "30s", got a TOML integer`},
		{"[[probe]]\nname = \"a\"\n[[probe]]\nname = \"b\"\nevery = 300\n", `b.toml:5: probe[1].every: wrong type: want a duration string such as "30s", got a TOML integer`},
		// [interface] (one table) instead of [[interface]] is an error, not a silent single interface.
		{"[graph]\nfiles = [\"a\"]\n[interface]\nname = \"eth0\"\n", "b.toml:3: interface: wrong type: [interface] is an array of tables: write [[interface]]"},
		{"[hooks]\nbudget = \"soon\"\n", `b.toml:2: hooks.budget: invalid duration "soon"`},
		{"[graph\n", "b.toml:1: expected ']'"},
		{"colour = 1\n", "b.toml:1: colour: unknown key (known: control, graph, hooks, interface, lkg, log, probe, profile)"},
	} {
		_, _, err := Decode("b.toml", []byte(c.doc))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Decode(%q) = %v, want %q", c.doc, err, c.want)
		}
	}
}

func TestValidatePositions(t *testing.T) {
	doc := `[graph]
files = ["r.click"]

[[interface]]
name = "eth0"
method = "dpdk"

[[interface]]
name = "eth1"
addresses = ["10.0.0.1/24", "10.0.0.300/24"]
mtu = 20
`
	c, pos, err := Decode("b.toml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	err = c.Validate("b.toml", pos)
	for _, want := range []string{
		`b.toml:6: interface[0].method: unknown method "dpdk"`,
		`b.toml:10: interface[1].addresses[1]: "10.0.0.300/24" is not an address`,
		"b.toml:11: interface[1].mtu: 20: want 68..65535",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: %v\nwant %q", err, want)
		}
	}
}

func write(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for n, s := range files {
		p := filepath.Join(dir, n)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLoadFilesDefinesAndErrors(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"boot.toml": `profile = "t"
[graph]
files = ["a.click", "b.click"]
[graph.define]
N = "3"
[graph.define_file]
RULES = "rules.txt"
[[interface]]
name = "eth9"
define = "UP"
mac = "02:00:00:00:00:09"
addresses = ["192.0.2.1/24"]
mtu = 9000
`,
		"a.click":   "InfiniteSource(LIMIT $N, STOP true) -> f :: IPFilter($RULES) -> Discard;\n",
		"b.click":   "Idle -> c :: Counter -> Discard; // $UP $UP_IP $UP_MAC $UP_NET $UP_MTU\n",
		"rules.txt": "# comment\nallow udp   # trailing\n\ndeny all\n",
	})
	s, err := Load(filepath.Join(dir, "boot.toml"), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Defines["RULES"]; got != "allow udp, deny all" {
		t.Errorf("RULES = %q", got)
	}
	for k, v := range map[string]string{"UP": "eth9", "UP_IP": "192.0.2.1", "UP_NET": "192.0.2.0/24", "UP_MAC": "02:00:00:00:00:09", "UP_MTU": "9000", "UP_METHOD": "AUTO"} {
		if s.Defines[k] != v {
			t.Errorf("$%s = %q, want %q", k, s.Defines[k], v)
		}
	}
	if len(s.Graph.Elements) != 6 || len(s.Files) != 4 {
		t.Errorf("merged graph has %d elements, %d files", len(s.Graph.Elements), len(s.Files))
	}

	// Missing file, bad Click, duplicate element across files.
	write(t, dir, map[string]string{"b.click": "c :: Counter; Idle -> c -> Discard; f :: Null;\n"})
	os.Remove(filepath.Join(dir, "rules.txt"))
	_, err = Load(filepath.Join(dir, "boot.toml"), LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), "boot.toml:7: graph.define_file.RULES: cannot read rules.txt: no such file") {
		t.Errorf("missing define file: %v", err)
	}
	write(t, dir, map[string]string{"rules.txt": "allow all\n"})
	_, err = Load(filepath.Join(dir, "boot.toml"), LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), `element "f" is also declared at`) {
		t.Errorf("duplicate element: %v", err)
	}
	write(t, dir, map[string]string{"b.click": "Idle -> Bogus -> Discard;\n"})
	_, err = Load(filepath.Join(dir, "boot.toml"), LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), "boot.toml:3: graph.files") || !strings.Contains(err.Error(), "b.click:1:") {
		t.Errorf("bad class: %v", err)
	}
}

func TestLKGRoundTrip(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"etc/boot.toml": "[graph]\nfiles = [\"x.click\"]\n[hooks]\nfiles = [\"h.lua\"]\n",
		"etc/x.click":   "Idle -> Discard;\n",
		"etc/h.lua":     "function on_config(req) return true end\n",
	})
	s, err := Load(filepath.Join(dir, "etc/boot.toml"), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	store := filepath.Join(dir, "lkg")
	if _, err := LoadLKG(store, LoadOptions{}); err != ErrNoLKG {
		t.Fatalf("empty store: %v", err)
	}
	if saved, err := SaveLKG(store, s); err != nil || !saved {
		t.Fatalf("SaveLKG: %v %v", saved, err)
	}
	if saved, _ := SaveLKG(store, s); saved {
		t.Error("saving the same set twice rewrote the store")
	}
	// The originals break; the snapshot still loads.
	os.WriteFile(filepath.Join(dir, "etc/x.click"), []byte("garbage ->"), 0o644)
	os.Remove(filepath.Join(dir, "etc/h.lua"))
	l, err := LoadLKG(store, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if l.LKG == nil || l.BootFile != s.BootFile || len(l.Graph.Elements) != 2 || len(l.HookFiles) != 1 {
		t.Errorf("LKG set: %+v", l)
	}
	if _, err := os.Stat(l.Path(l.HookFiles[0])); err != nil {
		t.Errorf("hook file not in the snapshot: %v", err)
	}
}

// Lua errors in hooks and probe scripts name the script once:
// "FILE:LINE: message" after the boot file's key.
func TestLuaErrorsNameTheScriptOnce(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"etc/boot.toml": "[graph]\nfiles = [\"x.click\"]\n[hooks]\nfiles = [\"h.lua\"]\n" +
			"[[probe]]\nname = \"p\"\nscript = \"p.lua\"\nevery = \"1m\"\n",
		"etc/x.click": "Idle -> Discard;\n",
		"etc/h.lua":   "function on_config(req)\n  return 1 +\nend\n",
		"etc/p.lua":   "x = = 1\n",
	})
	_, err := Load(filepath.Join(dir, "etc/boot.toml"), LoadOptions{})
	if err == nil {
		t.Fatal("broken scripts accepted")
	}
	for _, want := range []string{
		"hooks.files[0]: Lua hooks: " + filepath.Join(dir, "etc/h.lua") + ":3: syntax error near 'end'",
		"probe[0].script: probe script: " + filepath.Join(dir, "etc/p.lua") + ":1: syntax error near '='",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// The shipped profiles decode, validate and parse (devices are not built).
func TestProfilesLoad(t *testing.T) {
	profiles, _ := filepath.Glob("../../firmware/profiles/*/boot.toml")
	if len(profiles) < 4 {
		t.Fatalf("profiles: %v", profiles)
	}
	for _, p := range profiles {
		if _, err := Load(p, LoadOptions{SkipBuild: true}); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	// The example names profiles/router/router.click, beside it both in
	// the tree and where `make install` puts it (/etc/flowbox).
	if _, err := Load("../../firmware/boot.example.toml", LoadOptions{SkipBuild: true}); err != nil {
		t.Errorf("boot.example.toml: %v", err)
	}
}
