package tracebox_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// dropFrags drops IPv4 fragments (MF set or a non-zero offset).
func dropFrags() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV4}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 6, Len: 2},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 2, Mask: []byte{0x3f, 0xff}, Xor: []byte{0, 0}},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{0, 0}},
		&expr.Verdict{Kind: expr.VerdictDrop},
	}
}

// TestLabDetectFrags runs detect_frags.lua (bin/tracebox) on the Linux
// lab: a clean path, then r2 dropping forwarded fragments with a 1000-byte
// MTU on its link to r3.
func TestLabDetectFrags(t *testing.T) {
	script := filepath.Join(scriptDir(), "detect_frags.lua")
	start := time.Now()
	l := newLab(t)
	got, _ := l.tracebox("-n", "-t", "0.3", "-s", script, "10.201.4.2")
	if want := "fragments: forwarded up to hop 3 (10.201.3.2) (3 fragments of 32 bytes)\n" +
		"PMTU: 1400-byte DF probe reaches the destination\n"; got != want {
		t.Fatalf("clean path:\n%s\nwant:\n%s", got, want)
	}
	l = newLab(t)
	l.nft("r2", nftables.TableFamilyINet, nftables.ChainHookForward, dropFrags())
	l.in("r2", "ip", "link", "set", "dev", fmt.Sprintf("tbx%s3a", l.id), "mtu", "1000")
	l.in("r3", "ip", "link", "set", "dev", fmt.Sprintf("tbx%s3b", l.id), "mtu", "1000")
	got, _ = l.tracebox("-n", "-t", "0.3", "-s", script, "10.201.4.2")
	if want := "fragments: dropped between hop 2 (10.201.2.2) and hop 3 (10.201.3.2) (3 fragments of 32 bytes)\n" +
		"PMTU: 1400-byte DF probe too big after 10.201.2.2 (answered at TTL 3): next-hop MTU 1000\n"; got != want {
		t.Fatalf("fragment filter + MTU 1000 at r2:\n%s\nwant:\n%s", got, want)
	}
	if el := time.Since(start); el > 30*time.Second {
		t.Errorf("took %v", el)
	}
}
