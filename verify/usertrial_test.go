package verify

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// Malformed requirements name the column and what was expected.
func TestRequirementSyntaxErrors(t *testing.T) {
	for _, tc := range []struct{ req, want string }{
		{"", "col 1: expected 'reach from'"},
		{"reach to out", "col 7: expected 'from' after 'reach', got \"to\""},
		{"reach from", "col 11: expected a source node"},
		{"reach from in", "col 14: expected '-> NODE' after the source"},
		{"reach from in ->", "col 17: expected a node after '->'"},
		{"reach from in -> -> out", "col 18: expected a node after '->'"},
		{"reach from in -> out const", "col 27: expected a field after 'const'"},
		{"reach from in -> out const foo", `col 28: unknown const field "foo"`},
		{"reach from in -> out const src &&", "col 34: expected a field after '&&'"},
		{"reach from in -> out const ttl && && src", "col 35: expected a field after '&&'"},
		{"reach from in udpp -> out", "col 15: flow \"udpp\": unknown primitive"},
		{"reach from in -> out udp dst port", "col 34: flow \"udp dst port\": expected port"},
		{"reach from in const src -> out", "col 15: const is not allowed on the source"},
		{"reach from 10.0.0.300 -> out", `col 12: bad address or subnet "10.0.0.300"`},
	} {
		_, err := ParseRequirement(tc.req)
		var se *SyntaxError
		if !errors.As(err, &se) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.req, err, tc.want)
		}
	}
}

func checkerOf(t *testing.T, conf string) *Checker {
	t.Helper()
	lg, err := ParseConfig("t.click", []byte(conf))
	if err != nil {
		t.Fatal(err)
	}
	g := NewGraph()
	if err := g.AddBox("", lg); err != nil {
		t.Fatal(err)
	}
	return &Checker{G: g}
}

// A packet generator in a tenant module originates traffic: it was not
// checked (ACCEPT "sends no traffic" for a module spoofing 1.2.3.4).
func TestSecurityGenerators(t *testing.T) {
	const frame = `\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x01\x08\x00\x45\x00\x00\x1c\x00\x00\x00\x00\x40\x11\x00\x00\x01\x02\x03\x04\x08\x08\x08\x08\x00\x35\x00\x35\x00\x08\x00\x00`
	c := checkerOf(t, `in :: FromDevice(eth0); out :: ToDevice(eth0); in -> Discard;
RatedSource(DATA "`+frame+`", RATE 10) -> out;`)
	for _, tc := range []struct {
		opt  SecurityOptions
		want Decision
		why  string
	}{
		{SecurityOptions{Role: Client, Address: netipAddr("192.0.2.7")}, Reject, "spoofing"},
		{SecurityOptions{Role: Client, Address: netipAddr("1.2.3.4")}, Accept, ""},
		{SecurityOptions{Role: ThirdParty, Address: netipAddr("1.2.3.4")}, Reject, "default-off"},
		{SecurityOptions{Role: ThirdParty, Address: netipAddr("1.2.3.4"), Allowed: []netipPrefix{mustPrefix("8.8.8.0/24")}}, Accept, ""},
		{SecurityOptions{Role: Operator}, Accept, ""},
	} {
		r := c.Security(tc.opt)
		if r.Decision != tc.want || !strings.Contains(r.Reason, tc.why) {
			t.Errorf("%v %v: %s", tc.opt.Role, tc.opt.Address, r.Line())
		}
	}
	// an empty module sends nothing; an operator is always accepted
	e := checkerOf(t, ``)
	for _, role := range []Role{Operator, Client, ThirdParty} {
		if r := e.Security(SecurityOptions{Role: role, Address: netipAddr("192.0.2.7")}); r.Decision != Accept {
			t.Errorf("empty module as %v: %s", role, r.Line())
		}
	}
}

// ELEMENT:PORT: a port the element lacks is a usage error; ToDevice:0 is
// leaving through the device (In-Net's "batcher:dst:0"); const-violation
// messages print addresses dotted.
func TestPortsAndAddresses(t *testing.T) {
	c := checkerOf(t, `in :: FromDevice(eth0); out :: ToDevice(eth1);
in -> Strip(14) -> CheckIPHeader -> IPFilter(allow udp, deny all)
   -> IPRewriter(pattern 198.51.100.1 1024-65535 - - 0 0) -> EtherEncap(0x0800, 00:00:00:00:00:01, 00:00:00:00:00:02) -> out;`)
	for _, bad := range []string{"reach from in -> out:1", "reach from in:5 -> out"} {
		r, err := ParseRequirement(bad)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(r); err == nil || !strings.Contains(err.Error(), "has no output") {
			t.Errorf("%s: Validate = %v", bad, err)
		}
	}
	want := map[string]Verdict{
		"reach from in udp -> out:0 const dst && payload": Satisfied,
		"reach from in tcp -> out:0":                      Violated,
	}
	for req, v := range want {
		r, _ := ParseRequirement(req)
		if err := c.Validate(r); err != nil {
			t.Fatal(err)
		}
		if a := c.Check(r); a.Verdict != v {
			t.Errorf("%s: %s", req, a.Line())
		}
	}
	r, _ := ParseRequirement("reach from in udp -> out const src")
	a := c.Check(r)
	if a.Verdict != Violated || !strings.Contains(a.Reason, "becomes 198.51.100.1") || !strings.Contains(a.Counterexample, "at out") ||
		strings.Contains(a.Line(), "3325256705") {
		t.Errorf("%s", a.Line())
	}
}

type netipPrefix = netip.Prefix

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }
