package rings

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
)

// blockKernelRX keeps the kernel stack from processing frames that arrive
// on ifname (FromDevice SNIFFER false): an nf_tables netdev-family table
// with an ingress chain whose policy is drop. The ingress hook runs after
// the AF_PACKET taps, so our RX ring still sees every frame. The returned
// function removes the table.
func blockKernelRX(ifname string) (func() error, error) {
	c, err := nftables.New()
	if err != nil {
		return nil, fmt.Errorf("%s: SNIFFER false needs nf_tables (%v): use SNIFFER true", ifname, err)
	}
	name := "flowbox_" + strings.ReplaceAll(ifname, ".", "_")
	t := c.AddTable(&nftables.Table{Family: nftables.TableFamilyNetdev, Name: name})
	drop := nftables.ChainPolicyDrop
	c.AddChain(&nftables.Chain{
		Name: "ingress", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookIngress, Priority: nftables.ChainPriorityFilter,
		Device: ifname, Policy: &drop,
	})
	if err := c.Flush(); err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			return nil, PermissionError(ifname, "SNIFFER false (an nf_tables ingress drop chain)", "CAP_NET_ADMIN", err)
		}
		return nil, fmt.Errorf("%s: SNIFFER false could not install an nf_tables ingress drop chain (%v): use SNIFFER true", ifname, err)
	}
	return func() error {
		c, err := nftables.New()
		if err != nil {
			return err
		}
		c.DelTable(&nftables.Table{Family: nftables.TableFamilyNetdev, Name: name})
		return c.Flush()
	}, nil
}
