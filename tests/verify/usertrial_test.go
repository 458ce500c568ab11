package verify_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Found trying `flowbox verify` as a new user: positions in syntax
// errors, ports an element lacks, packet generators in tenant modules,
// and the on_tenant hook (--hooks) of the tenant platform.
func TestCLIUserTrial(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	fw := filepath.Join("testdata", "cli", "fw.click")
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct{ req, want string }{
		{"reach from in -> out const src &&", "col 34: expected a field after '&&'"},
		{"reach from in udpp -> out", "col 15: flow \"udpp\": unknown primitive"},
		{"reach from in -> out:99", "out (ToDevice) has no output 99"},
		{"reach from in:5 -> out", "in (FromDevice) has no output 5"},
	} {
		out, errs, code := runErr(t, "-r", tc.req, fw)
		if code != 2 || out != "" || !strings.Contains(errs, tc.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want %q", tc.req, code, out, errs, tc.want)
		}
	}
	if out, code := run(t, "-r", "reach from in udp -> out:0", fw); code != 0 || !strings.HasPrefix(out, "SATISFIED") {
		t.Errorf("ToDevice:0: exit %d: %s", code, out)
	}

	gen := write("gen.click", `in :: FromDevice(eth0); out :: ToDevice(eth0); in -> Discard;
RatedSource(DATA "\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x01\x08\x00\x45\x00\x00\x1c\x00\x00\x00\x00\x40\x11\x00\x00\x01\x02\x03\x04\x08\x08\x08\x08\x00\x35\x00\x35\x00\x08\x00\x00", RATE 10) -> out;`)
	if out, code := run(t, "--as", "client", "--address", "192.0.2.7", gen); code != 1 || !strings.HasPrefix(out, "REJECT (client): spoofing") {
		t.Errorf("spoofing generator: exit %d: %s", code, out)
	}

	mirror := write("mirror.click", `in :: FromDevice(eth0); out :: ToDevice(eth0);
in -> Strip(14) -> CheckIPHeader -> IPFilter(allow udp, deny all) -> IPMirror -> EtherEncap(0x0800, 00:00:00:00:00:01, 00:00:00:00:00:02) -> out;`)
	hooks := write("tenant.lua", `function on_tenant(req)
  if req.address == "192.0.2.66" then return false, "tenant " .. req.address .. " is suspended" end
  return true
end`)
	broken := write("broken.lua", `function on_tenant(req) error("boom") end`)
	if out, code := run(t, "--hooks", hooks, "--as", "third-party", "--address", "192.0.2.7", mirror); code != 0 || !strings.HasPrefix(out, "ACCEPT") {
		t.Errorf("allowed tenant: exit %d: %s", code, out)
	}
	if out, code := run(t, "--hooks", hooks, "--as", "client", "--address", "192.0.2.66", mirror); code != 1 || !strings.Contains(out, "REJECT (client): on_tenant: tenant 192.0.2.66 is suspended") {
		t.Errorf("suspended tenant: exit %d: %s", code, out)
	}
	if out, code := run(t, "--hooks", broken, "--as", "client", "--address", "192.0.2.7", mirror); code != 1 || !strings.Contains(out, "boom") {
		t.Errorf("failing hook must reject: exit %d: %s", code, out)
	}
	if _, errs, code := runErr(t, "--hooks", hooks, "-r", "reach from in -> out", mirror); code != 2 || !strings.Contains(errs, "--hooks needs --as") {
		t.Errorf("--hooks without --as: exit %d: %s", code, errs)
	}
}
