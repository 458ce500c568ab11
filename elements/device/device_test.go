package device

import (
	"strings"
	"testing"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
	"flowbox/elements/elemtest"
)

func TestDocsComplete(t *testing.T) {
	for _, name := range []string{"FromDevice", "ToDevice", "ToHost", "FromHost", "VPort"} {
		c := core.Lookup(name)
		if c == nil {
			t.Fatalf("%s not registered", name)
		}
		d := c.Doc
		if d.Synopsis == "" || d.Summary == "" || d.Description == "" || d.Ports == "" || len(d.Args) == 0 || len(d.Handlers) == 0 || d.Example == "" {
			t.Errorf("%s: incomplete Doc", name)
		}
		e := c.New()
		hp, ok := e.(core.HandlerProvider)
		if !ok {
			t.Fatalf("%s has no handlers", name)
		}
		documented := map[string]bool{}
		for _, h := range d.Handlers {
			documented[h.Name] = true
		}
		for _, h := range hp.Handlers() {
			if !documented[h.Name] {
				t.Errorf("%s: handler %q not documented", name, h.Name)
			}
		}
	}
}

func TestConfigErrors(t *testing.T) {
	cases := []struct{ class, config, want string }{
		{"FromDevice", "fbxnosuch0", "fbxnosuch0: no such network interface"},
		{"ToDevice", "fbxnosuch0, METHOD PACKET", "fbxnosuch0: no such network interface"},
		{"FromDevice", "lo, METHOD DPDK", "unknown METHOD"},
		{"FromDevice", "lo, XDP_MODE turbo", "lo: unsupported XDP mode"},
		{"FromDevice", "lo, BURST 0", "BURST"},
		{"FromDevice", "lo, QUEUE 2, QUEUES 2", "QUEUE 2 must be below QUEUES 2"},
		{"FromDevice", "lo, BPF_FILTER 'udp port'", "BPF_FILTER"},
		{"FromDevice", "lo, METHOD XDP, SHED true", "lo: SHED is for METHOD PACKET"},
		{"VPort", "w, SIDE C", "SIDE"},
		{"ToHost", "waytoolongdevicename0", "1 to 15"},
	}
	for _, c := range cases {
		_, err := elemtest.Build(t, c.class, c.config, elemtest.Options{Inputs: inputs(c.class), Outputs: outputs(c.class)})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s(%s): error %v, want %q", c.class, c.config, err, c.want)
		}
		if err != nil && strings.Count(strings.TrimSuffix(err.Error(), "."), ". ") > 0 {
			t.Errorf("%s(%s): not one sentence: %v", c.class, c.config, err)
		}
	}
}

func inputs(class string) int {
	if class == "FromDevice" || class == "FromHost" {
		return 0
	}
	return 1
}

func outputs(class string) int {
	if class == "ToDevice" || class == "ToHost" {
		return 0
	}
	return 1
}

func TestVPortPair(t *testing.T) {
	a := elemtest.New(t, "VPort", "fbxtestwire, SIDE A, CAPACITY 100", 1, 1)
	b := elemtest.New(t, "VPort", "fbxtestwire, SIDE B, CAPACITY 100", 1, 1)
	var frames [][]byte
	for i := 0; i < 150; i++ {
		frames = append(frames, []byte{byte(i), 1, 2, 3})
	}
	a.Push(0, frames...) // capacity rounds up to 128: 22 dropped
	if got := a.Read("sent"); got != "128" {
		t.Fatalf("sent %s", got)
	}
	if got := a.Read("drops"); got != "22" {
		t.Fatalf("drops %s", got)
	}
	for b.RunTask() {
	}
	got := b.Outs[0].Data()
	if len(got) != 128 {
		t.Fatalf("other side got %d", len(got))
	}
	for i, d := range got {
		if d[0] != byte(i) {
			t.Fatalf("packet %d out of order", i)
		}
	}
	if a.RunTask() || len(a.Outs[0].Pkts) != 0 {
		t.Fatal("A received its own packets")
	}
	// zero allocations per packet across the wire
	pool := a.Ctx.Pool
	var bt packet.Batch
	va, vb := a.Elem.(*VPort), b.Elem.(*VPort)
	b.Outs[0].Discard = true
	allocs := testing.AllocsPerRun(100, func() {
		for bt.N < 64 {
			bt.Append(pool.New(60))
		}
		va.Push(a.Ctx, 0, &bt)
		vb.RunTask(b.Ctx)
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocs per 64-packet batch", allocs)
	}
	va.Cleanup(a.Ctx)
	vb.Cleanup(b.Ctx)
	if _, ok := wires["fbxtestwire"]; ok {
		t.Fatal("wire not torn down after both sides released")
	}
}
