package middlebox

import (
	"testing"

	"github.com/google/gopacket/layers"
)

func TestChangeWin(t *testing.T) {
	syn := defSpec()
	syn.syn, syn.opts = true, []layers.TCPOption{mssOpt(1460), sackOKOpt(), wsOpt(7)}
	data := defSpec()
	data.ackf, data.payload = true, []byte("xyz")
	cases := []struct {
		name, config string
		in           []byte
		win          uint16
		scale        int // -1: absent
		count        string
	}{
		{"window only", "1024", syn.build(t), 1024, 7, "1"},
		{"scale only", "SCALE 2", syn.build(t), 5840, 2, "1"},
		{"both", "WIN 0, SCALE 14", syn.build(t), 0, 14, "1"},
		{"data segment window", "WIN 100, SCALE 1", data.build(t), 100, -1, "1"},
		{"unchanged", "5840", data.build(t), 5840, -1, "0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, out := run(t, "ChangeWin", tc.config, 1, 0, tc.in)
			_, tcp := decode(t, out[0])
			ws := opt(tcp, layers.TCPOptionKindWindowScale)
			got := -1
			if ws != nil {
				got = int(ws[0])
			}
			if tcp.Window != tc.win || got != tc.scale || h.Read("count") != tc.count {
				t.Fatalf("window %d scale %d count %s; want %d %d %s", tcp.Window, got, h.Read("count"), tc.win, tc.scale, tc.count)
			}
		})
	}
	if _, err := buildErr(t, "ChangeWin", ""); err == nil {
		t.Fatal("ChangeWin without arguments configured")
	}
}
