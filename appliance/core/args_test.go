package core

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSplitArgs(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"1, 2", []string{"1", "2"}},
		{"1, ", []string{"1"}}, // a trailing empty argument is ignored
		{"a, , b", []string{"a", "", "b"}},
		{`"x, y", z`, []string{`"x, y"`, "z"}},
		{`'a,b'`, []string{`'a,b'`}},
		{"f(1, 2), 3", []string{"f(1, 2)", "3"}},
		{"1, // comment, with comma\n2", []string{"1", "2"}},
		{"1 /* a, b */, 2", []string{"1", "2"}},
		{"LIMIT 5, BURST\t2", []string{"LIMIT 5", "BURST\t2"}},
	}
	for _, c := range cases {
		if got := SplitArgs(c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("SplitArgs(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestUnquote(t *testing.T) {
	cases := []struct{ in, want string }{
		{`plain`, "plain"},
		{`"a\nb"`, "a\nb"},
		{`"\x41\102"`, "AB"},
		{`'no \n escape'`, `no \n escape`},
		{`\<0800 45>`, "\x08\x00\x45"},
		{`"ab"\<43>'d'`, "abCd"},
		{`"\<4142>"`, "AB"},
	}
	for _, c := range cases {
		got, err := Unquote(c.in)
		if err != nil || got != c.want {
			t.Errorf("Unquote(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{`"open`, `\<zz>`, `\<12`, `'x`} {
		if _, err := Unquote(bad); err == nil {
			t.Errorf("Unquote(%q) gave no error", bad)
		}
	}
}

func TestParseClickRules(t *testing.T) {
	var data string
	var limit, burst int
	var active bool
	specs := func() []Spec {
		return []Spec{
			Pos("DATA", String(&data)), Pos("LIMIT", Int(&limit)), Pos("BURST", Int(&burst)),
			Pos("ACTIVE", Bool(&active)),
		}
	}
	// Positional and keyword forms are equivalent.
	if err := NewArgs(`"x", 5, 2`).Parse(specs()...); err != nil || data != "x" || limit != 5 || burst != 2 {
		t.Fatalf("positional: %v %q %d %d", err, data, limit, burst)
	}
	limit, burst = 0, 0
	if err := NewArgs("LIMIT 5, BURST 2").Parse(specs()...); err != nil || limit != 5 || burst != 2 {
		t.Fatalf("keywords: %v %d %d", err, limit, burst)
	}
	// The last of a repeated keyword wins.
	var capacity int
	if err := NewArgs("CAPACITY 3, CAPACITY 5").Parse(Pos("CAPACITY", Int(&capacity))); err != nil || capacity != 5 {
		t.Errorf("repeated keyword: %v %d", err, capacity)
	}
	errCases := []struct{ conf, want string }{
		{"FOO 1", "FOO: unknown argument"},
		{"1, 2, 3, true, 5", "too many arguments"},
		{"LIMIT x", "LIMIT: expected integer"},
	}
	for _, c := range errCases {
		err := NewArgs(c.conf).Parse(Pos("LIMIT", Int(&limit)), Pos("BURST", Int(&burst)), Pos("ACTIVE", Bool(&active)), Key("X", Int(&limit)))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.conf, err, c.want)
		}
	}
	if err := NewArgs("").Parse(Pos("MTU", Int(&limit)).Required()); err == nil || !strings.Contains(err.Error(), "MTU: required argument missing") {
		t.Errorf("missing mandatory: %v", err)
	}
	var rest []string
	if err := NewArgs("a, b, c").Parse(Pos("FIRST", Word(&data)), Rest("REST", &rest)); err != nil || data != "a" || !reflect.DeepEqual(rest, []string{"b", "c"}) {
		t.Errorf("rest: %v %q %q", err, data, rest)
	}
}

func TestValueTypes(t *testing.T) {
	d, err := ParseDuration("250ms")
	if err != nil || d != 250*time.Millisecond {
		t.Errorf("250ms -> %v %v", d, err)
	}
	if d, _ := ParseDuration("1.5"); d != 1500*time.Millisecond {
		t.Errorf("1.5 -> %v", d)
	}
	if _, err := ParseDuration("5 parsecs"); err == nil {
		t.Error("bad unit accepted")
	}
	var bw float64
	if err := Bandwidth(&bw)("8Mbps"); err != nil || bw != 1e6 {
		t.Errorf("8Mbps -> %v %v bytes/s", bw, err)
	}
	prefixes := map[string]string{
		"18.26.4/24":                     "18.26.4.0/24",
		"10.0.0.1":                       "10.0.0.1/32",
		"10.1.2.3/8":                     "10.0.0.0/8",
		"192.168.0.0/255.255.0.0":        "192.168.0.0/16",
		"192.168.0.0 mask 255.255.255.0": "192.168.0.0/24",
		"fd00::/8":                       "fd00::/8",
	}
	for in, want := range prefixes {
		p, err := ParseIPPrefix(in)
		if err != nil || p != netip.MustParsePrefix(want) {
			t.Errorf("ParseIPPrefix(%q) = %v, %v; want %s", in, p, err, want)
		}
	}
	if _, err := ParseIPPrefix("10.0.0.0/255.0.255.0"); err == nil {
		t.Error("non-contiguous mask accepted")
	}
	e, err := ParseEther("0-1-2-3-4-ff")
	if err != nil || e != [6]byte{0, 1, 2, 3, 4, 0xff} {
		t.Errorf("ether: %v %v", e, err)
	}
	if _, err := ParseEther("0:1:2:3:4"); err == nil {
		t.Error("short Ethernet address accepted")
	}
	var i int
	if err := Int(&i)("0x10"); err != nil || i != 16 {
		t.Errorf("hex int: %d %v", i, err)
	}
}

func TestPortSpec(t *testing.T) {
	cases := []struct {
		spec     string
		nin      int
		in, outs PortRange
	}{
		{"1/1", 1, PortRange{1, 1}, PortRange{1, 1}},
		{"1/1-2", 1, PortRange{1, 1}, PortRange{1, 2}},
		{"0/1", 0, PortRange{0, 0}, PortRange{1, 1}},
		{"1-/=", 3, PortRange{1, -1}, PortRange{3, 3}},
		{"1-/=+", 2, PortRange{1, -1}, PortRange{3, 3}},
		{"-/-", 0, PortRange{0, -1}, PortRange{0, -1}},
	}
	for _, c := range cases {
		ps, err := ParsePortSpec(c.spec)
		if err != nil || ps.In != c.in || ps.OutputsFor(c.nin) != c.outs {
			t.Errorf("%s: %+v %v", c.spec, ps, err)
		}
	}
	if ProcessingKind("h/lh", true, 0) != Pull || ProcessingKind("h/lh", true, 5) != Push || ProcessingKind("a/ah", false, 0) != Agnostic {
		t.Error("ProcessingKind")
	}
}

func FuzzSplitArgs(f *testing.F) {
	for _, s := range []string{"", "a, b", `"x\"y", 'z'`, `\<0800>`, "f(1,(2)), // c\n3", "/* x", `"\x4`, `"\`, "0\"000\\"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, a := range SplitArgs(s) {
			SplitWords(a)
			Unquote(a) // must not panic; errors are fine
			keywordOf(a)
		}
	})
}
