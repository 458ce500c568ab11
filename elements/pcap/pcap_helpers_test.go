package pcap

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"flowbox/appliance/core"
	"flowbox/elements/elemtest"
)

// frame is a minimal Ethernet/IPv4 frame whose bytes depend on i.
func frame(i int) []byte {
	f := make([]byte, 60+i%7)
	copy(f, []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00, 0x45})
	for k := 15; k < len(f); k++ {
		f[k] = byte(i + k)
	}
	return f
}

// runTasks runs the element's task until it reports no work.
func runTasks(h *elemtest.Harness) {
	for i := 0; i < 10000 && h.RunTask(); i++ {
	}
}

// writeDump pushes frames with timestamps through ToDump(config) and
// cleans up, returning the file path.
func writeDump(t *testing.T, name, extra string, frames [][]byte, ts []int64) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	h := elemtest.New(t, "ToDump", path+extra, 1, 0)
	for i, f := range frames {
		p := h.Packet(f)
		p.Anno.Timestamp = ts[i]
		h.PushPackets(0, p)
	}
	h.Elem.(core.Cleaner).Cleanup(h.Ctx)
	return path
}

// bigEndianPcap hand-builds a big-endian microsecond pcap file.
func bigEndianPcap(t *testing.T, frames [][]byte, secs, usecs []uint32) string {
	b := binary.BigEndian.AppendUint32(nil, 0xa1b2c3d4)
	b = binary.BigEndian.AppendUint16(b, 2)
	b = binary.BigEndian.AppendUint16(b, 4)
	b = append(b, make([]byte, 8)...)
	b = binary.BigEndian.AppendUint32(b, 65535)
	b = binary.BigEndian.AppendUint32(b, 1)
	for i, f := range frames {
		b = binary.BigEndian.AppendUint32(b, secs[i])
		b = binary.BigEndian.AppendUint32(b, usecs[i])
		b = binary.BigEndian.AppendUint32(b, uint32(len(f)))
		b = binary.BigEndian.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	path := filepath.Join(t.TempDir(), "be.pcap")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
