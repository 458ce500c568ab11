package device

import (
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
	"flowbox/appliance/rings"
	"flowbox/elements/elemtest"
	"flowbox/tests/netns/nsenv"
)

// TestForwardNoAllocs wires FromDevice(fa) -> ToDevice(tb) on two veth
// pairs in a namespace (gen ga--fa, tb--sb sink) and checks that moving
// frames through the elements allocates nothing: the generator's frames,
// plus UDP datagrams from the namespace's kernel stack that arrive with
// the checksum left to offload (METHOD PACKET completes it in RecvBatch).
func TestForwardNoAllocs(t *testing.T) {
	if why := nsenv.Available(); why != "" {
		t.Skip(why)
	}
	for _, method := range []string{"PACKET", "XDP"} {
		t.Run(method, func(t *testing.T) {
			if method == "XDP" && !rings.Registered(rings.MethodXDP) {
				t.Skip("no XDP opener in this build")
			}
			forwardNoAllocs(t, method)
		})
	}
}

func forwardNoAllocs(t *testing.T, method string) {
	e := nsenv.NewPrefixed("fbxr")
	t.Cleanup(e.Close)
	ns, err := e.AddNS("a")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range [][2]string{{"ga", "fa"}, {"tb", "sb"}} {
		if err := e.Veth(ns, p[0], ns, p[1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := nsenv.IP("-n", ns, "addr", "add", "10.254.40.1/24", "dev", "ga"); err != nil {
		t.Fatal(err)
	}
	if err := nsenv.IP("-n", ns, "neigh", "replace", "10.254.40.2", "lladdr", "02:fb:00:00:28:02", "dev", "ga", "nud", "permanent"); err != nil {
		t.Fatal(err)
	}
	var from, to *elemtest.Harness
	var gen, sink rings.Port
	udp := -1
	err = nsenv.Run(ns, func() error {
		var err error
		if from, err = elemtest.Build(t, "FromDevice", "fa, METHOD "+method, elemtest.Options{Outputs: 1}); err != nil {
			return err
		}
		if to, err = elemtest.Build(t, "ToDevice", "tb, METHOD "+method, elemtest.Options{Inputs: 1}); err != nil {
			return err
		}
		if gen, err = rings.Open("ga", rings.MethodPacket, rings.Options{}); err != nil {
			return err
		}
		if sink, err = rings.Open("sb", rings.MethodPacket, rings.Options{}); err != nil {
			return err
		}
		if err = sink.(rings.RXStarter).StartRX(rings.Options{Sniffer: true}); err != nil {
			return err
		}
		if udp, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0); err != nil {
			return err
		}
		return unix.Connect(udp, &unix.SockaddrInet4{Addr: [4]byte{10, 254, 40, 2}, Port: 9})
	})
	if err != nil {
		t.Fatal(err)
	}
	fd, td := from.Elem.(*FromDevice), to.Elem.(*ToDevice)
	ctx := from.Ctx
	t.Cleanup(func() {
		fd.Cleanup(ctx)
		td.Cleanup(ctx)
		gen.Close()
		sink.Close()
		unix.Close(udp)
	})
	// The runtime's wiring: FromDevice's output pushes into ToDevice.
	fd.Output(0).Connect(core.AsPusher(td), 0)

	gpool, spool := packet.NewPool(nil), packet.NewPool(nil)
	var gb, sb packet.Batch
	payload := make([]byte, 200)
	const frames, datagrams = 32, 8
	var sent, got, csum uint64
	round := func() {
		for i := 0; i < frames; i++ {
			p := gpool.New(60 + i*20)
			d := p.Data()
			copy(d, []byte{0x02, 0xfb, 0, 0, 0x28, 2, 0x02, 0xfb, 0, 0, 0x28, 1, 0x88, 0xb5})
			binary.BigEndian.PutUint64(d[14:], sent)
			gb.Append(p)
			sent++
		}
		gen.SendBatch(gpool, &gb)
		for i := 0; i < datagrams; i++ {
			if _, err := unix.Write(udp, payload); err == nil {
				sent++
			}
		}
		for deadline := time.Now().Add(time.Second); got < sent && time.Now().Before(deadline); {
			fd.RunTask(ctx) // RecvBatch -> Push -> ToDevice.send
			for {
				n, _ := sink.RecvBatch(spool, &sb, packet.MaxBatch)
				if n == 0 {
					break
				}
				for j := 0; j < sb.N; j++ {
					if d := sb.P[j].Data(); len(d) > 14 && (d[12] == 0x88 || d[12] == 0x08) {
						got++
					}
				}
				spool.FreeBatch(&sb)
			}
		}
	}
	// Warm up (pools, rings, a freshly attached XDP program may miss the
	// very first frames), then count from a clean slate.
	round()
	sent, got = 0, 0
	allocs := testing.AllocsPerRun(30, round)
	if got != sent {
		t.Fatalf("sink got %d of %d frames; from %+v to %+v", got, sent, fd.Port().Stats(), td.Port().Stats())
	}
	if allocs != 0 {
		t.Fatalf("%v allocations per round of %d frames + %d datagrams", allocs, frames, datagrams)
	}
	if pp, ok := fd.Port().(*rings.PacketPort); ok && pp.VnetHdr() {
		csum = pp.ChecksumsCompleted()
		if csum < 30*datagrams {
			t.Fatalf("only %d datagrams needed checksum completion: the offload path was not exercised", csum)
		}
	}
	t.Log(fmt.Sprintf("%s: %d frames forwarded, 0 allocs; %d checksums completed", method, got, csum))
}
