package firmware_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// qemuBoot boots kernel+initrd with two virtio NICs and the given kernel
// command line, and returns the serial console output once every string
// in want has appeared (or fails the test after limit). accel is "kvm" or
// "tcg".
func qemuBoot(t *testing.T, accel, kernel, initrd, cmdline string, limit time.Duration, want ...string) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	args := []string{"-accel", accel, "-m", "512", "-smp", "1", "-nographic", "-no-reboot",
		"-kernel", kernel, "-initrd", initrd, "-append", "console=ttyS0 quiet panic=-1 " + cmdline,
		"-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0,romfile=",
		"-netdev", "user,id=n1", "-device", "virtio-net-pci,netdev=n1,romfile="}
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64", args...)
	pr, pw, _ := os.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.Stdin = nil
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	var mu sync.Mutex
	var out strings.Builder
	found := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		closed := false
		for sc.Scan() {
			mu.Lock()
			out.WriteString(sc.Text() + "\n")
			all := true
			for _, w := range want {
				if !strings.Contains(out.String(), w) {
					all = false
				}
			}
			mu.Unlock()
			if all && !closed {
				close(found)
				closed = true
			}
		}
	}()
	select {
	case <-found:
		mu.Lock()
		defer mu.Unlock()
		return out.String(), true
	case <-ctx.Done():
	}
	mu.Lock()
	defer mu.Unlock()
	return out.String(), false
}

func kvmUsable() bool {
	fd, err := unix.Open("/dev/kvm", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
}

// TestFirmwareImageQEMU builds the initramfs (make firmware's program)
// and boots it with Debian's kernel under qemu: once with the router
// profile (ready line on the serial console), once with a broken boot file
// (the last-known-good set seeded into the image runs, degraded).
func TestFirmwareImageQEMU(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (to read the distribution kernel and install qemu/linux-image-amd64 through .ci/install-test-deps)")
	}
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("qemu-system-x86_64 not installed (Debian qemu-system-x86; .ci/install-test-deps installs it)")
	}
	kernels, _ := filepath.Glob("/boot/vmlinuz-*")
	if len(kernels) == 0 {
		t.Skip("no kernel in /boot (Debian linux-image-amd64; .ci/install-test-deps installs it)")
	}
	sort.Strings(kernels)
	kernel := kernels[len(kernels)-1]
	version := strings.TrimPrefix(filepath.Base(kernel), "vmlinuz-")
	modDir := filepath.Join("/lib/modules", version)

	dir := t.TempDir()
	good, err := os.ReadFile(filepath.Join(root, "firmware/profiles/router/boot.toml"))
	if err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(dir, "broken.toml")
	os.WriteFile(broken, []byte(strings.Replace(string(good), "threads = 1", "treads = 1", 1)), 0o644)
	image := filepath.Join(dir, "flowbox-initramfs.cpio.gz")
	mk := exec.Command("go", "run", "./firmware/mkimage", "-o", image, "-flowbox", flowboxBin,
		"-modules-dir", modDir, "-seed-lkg", "router", "-add", broken+":/etc/flowbox/broken.toml")
	mk.Dir = root
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("mkimage: %v\n%s", err, out)
	}

	// KVM when it works (it may not, nested), else TCG; each boot bounded.
	accel := os.Getenv("FLOWBOX_QEMU_ACCEL")
	if accel == "" {
		accel = "tcg"
		if kvmUsable() {
			if _, ok := qemuBoot(t, "kvm", kernel, image, "flowbox.profile=router", 20*time.Second, "flowbox: ready:"); ok {
				accel = "kvm"
			} else {
				t.Log("KVM did not boot the image in 20s; using TCG")
			}
		}
	}
	t.Logf("qemu accel %s, kernel %s", accel, kernel)

	out, ok := qemuBoot(t, accel, kernel, image, "flowbox.profile=router", 120*time.Second,
		"flowbox: ready: profile=router elements=38 interfaces=eth0,eth1\n")
	if !ok {
		t.Fatalf("router profile: no ready line on the serial console in 120s:\n%s", out)
	}
	if !strings.Contains(out, "flowbox init: loaded") || strings.Contains(out, "degraded") {
		t.Errorf("router boot:\n%s", out)
	}

	out, ok = qemuBoot(t, accel, kernel, image, "flowbox.boot=/etc/flowbox/broken.toml", 120*time.Second,
		"/etc/flowbox/broken.toml:8: graph.treads: unknown key",
		"flowbox: ready: profile=router elements=38 interfaces=eth0,eth1 degraded=true source=last-known-good")
	if !ok {
		t.Fatalf("broken boot file: no last-known-good fallback on the serial console in 120s:\n%s", out)
	}
}
