package enforcer

import (
	"encoding/binary"
	"testing"
	"time"

	"flowbox/appliance/proto"
	"flowbox/elements/elemtest"
)

// frame builds an Ethernet+IPv4+UDP frame.
func frame(src, dst uint32) []byte {
	f := make([]byte, 14+28)
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:]
	ip[0], ip[8], ip[9] = 0x45, 64, proto.ProtoUDP
	binary.BigEndian.PutUint16(ip[2:], 28)
	binary.BigEndian.PutUint32(ip[12:], src)
	binary.BigEndian.PutUint32(ip[16:], dst)
	proto.SetIPv4Checksum(ip[:20])
	return f
}

const (
	module = 0x0a0a0005 // 10.10.0.5
	peer   = 0x01020304
	other  = 0x05060708
	wl     = 0xc0000201 // 192.0.2.1
)

func TestChangeEnforcer(t *testing.T) {
	h := elemtest.New(t, "ChangeEnforcer", "ADDRESS 10.10.0.5, WHITELIST 192.0.2.0/24, TIMEOUT 10s", 2, 2)
	h.Ctx.Now = int64(time.Second)
	// out before anything came in: only whitelisted destinations, from the module
	h.Push(1, frame(module, peer), frame(module, wl), frame(other, wl))
	if n := len(h.Outs[1].Pkts); n != 1 {
		t.Fatalf("outbound before any inbound: %d passed, want 1 (whitelisted)", n)
	}
	// traffic for someone else is not let in; traffic for the module is
	h.Push(0, frame(peer, other), frame(peer, module))
	if n := len(h.Outs[0].Pkts); n != 1 {
		t.Fatalf("inbound: %d passed, want 1", n)
	}
	// implicit authorization: replies to the peer, from the module or
	// with the peer's own source (a reflection), pass; to others not
	h.Push(1, frame(module, peer), frame(peer, peer), frame(module, other), frame(other, peer))
	if n := len(h.Outs[1].Pkts); n != 3 {
		t.Fatalf("after inbound: %d passed in total, want 3", n)
	}
	// idle timeout: the authorization lapses
	h.Ctx.Now += int64(11 * time.Second)
	h.Push(1, frame(module, peer))
	if n := len(h.Outs[1].Pkts); n != 3 {
		t.Fatalf("after the timeout: %d passed in total, want 3", n)
	}
	for name, want := range map[string]string{"in": "1", "out": "3", "spoofed": "2", "unauthorized": "3", "not_for_module": "1"} {
		if got := h.Read(name); got != want {
			t.Errorf("%s = %s, want %s", name, got, want)
		}
	}
}

func TestChangeEnforcerClient(t *testing.T) {
	// DEFAULT_OFF false: clients may send anywhere, but not spoof
	h := elemtest.New(t, "ChangeEnforcer", "ADDRESS 10.10.0.5, DEFAULT_OFF false", 2, 2)
	h.Push(1, frame(module, other), frame(other, other))
	if n := len(h.Outs[1].Pkts); n != 1 {
		t.Fatalf("%d passed, want 1", n)
	}
}

func TestPeerTableFull(t *testing.T) {
	h := elemtest.New(t, "ChangeEnforcer", "ADDRESS 10.10.0.5, CAPACITY 2", 2, 2)
	h.Ctx.Now = 1
	h.Push(0, frame(1, module), frame(2, module), frame(3, module))
	h.Push(1, frame(module, 3))
	if len(h.Outs[1].Pkts) != 0 || h.Read("table_full") != "1" {
		t.Fatalf("a peer not recorded must not be answered (fail closed): out %d, table_full %s", len(h.Outs[1].Pkts), h.Read("table_full"))
	}
}
