// Command mkimage builds flowbox's firmware image: a gzip'd cpio
// initramfs that boots any distribution kernel straight into flowbox (no
// busybox, no distribution userland). `make firmware` runs it.
//
//	/init, /bin/flowbox       the static flowbox binary ('flowbox init' as PID 1)
//	/etc/flowbox/boot.toml    the default boot file (a copy of -profile's)
//	/etc/flowbox/profiles/    every profile in firmware/profiles
//	/lib/modules/flowbox/     NIC modules (-modules) with their dependencies, and 'load'
//	/var/lib/flowbox/lkg/     last-known-good store, seeded with -seed-lkg
//
// The cpio library writes no device numbers, so the image has no
// /dev/console node: 'flowbox init' mounts devtmpfs and opens the console
// itself (the kernel prints "unable to open an initial console" first).
package main

import (
	"bufio"
	"compress/gzip"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/cavaliergopher/cpio"

	"flowbox/appliance/boot"
	_ "flowbox/elements/all" // the profiles' element classes
)

func main() {
	out := flag.String("o", "bin/flowbox-initramfs.cpio.gz", "output `FILE`")
	bin := flag.String("flowbox", "bin/flowbox", "the static flowbox `BINARY` (CGO_ENABLED=0)")
	profiles := flag.String("profiles", "firmware/profiles", "profiles `DIR`")
	profile := flag.String("profile", "router", "`PROFILE` whose boot file becomes /etc/flowbox/boot.toml")
	seed := flag.String("seed-lkg", "", "seed the last-known-good store with this `PROFILE` ('' = empty store)")
	modDir := flag.String("modules-dir", "", "kernel modules `DIR` (/lib/modules/VERSION); default: the newest in /lib/modules")
	mods := flag.String("modules", "virtio_net,virtio_pci", "comma-separated kernel `MODULES` to load at boot (with their dependencies); '' for none")
	var extra multi
	flag.Var(&extra, "add", "add a file: `SRC:DEST` (DEST absolute in the image; repeatable)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: go run ./firmware/mkimage [flags]\n\nBuilds the flowbox initramfs (cpio, gzip). Boot it with any kernel:\n  qemu-system-x86_64 -kernel /boot/vmlinuz-VERSION -initrd bin/flowbox-initramfs.cpio.gz \\\n    -append 'console=ttyS0 flowbox.profile=router' -nographic ...\n\nflags:")
		flag.PrintDefaults()
	}
	flag.Parse()
	if err := build(*out, *bin, *profiles, *profile, *seed, *modDir, *mods, extra); err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(s string) error { *m = append(*m, s); return nil }

func build(out, bin, profiles, profile, seed, modDir, mods string, extra []string) error {
	stage, err := os.MkdirTemp("", "flowbox-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stage)
	put := func(src, dst string, mode os.FileMode) error {
		b, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		p := filepath.Join(stage, dst)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		return os.WriteFile(p, b, mode)
	}
	for _, d := range []string{"proc", "sys", "dev", "run", "tmp", "root", "var/log", "var/lib/flowbox/lkg", "var/lib/flowbox/probes", "bin", "etc/flowbox"} {
		os.MkdirAll(filepath.Join(stage, d), 0o755)
	}
	if err := put(bin, "init", 0o755); err != nil {
		return fmt.Errorf("flowbox binary: %v (run 'make build' first)", err)
	}
	os.Symlink("../init", filepath.Join(stage, "bin/flowbox"))

	// Profiles, and the default boot file (the chosen profile, copied).
	if err := copyTree(profiles, filepath.Join(stage, "etc/flowbox/profiles")); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(profiles, profile, "boot.toml")); err != nil {
		return fmt.Errorf("-profile %s: %v", profile, err)
	}
	if err := copyTree(filepath.Join(profiles, profile), filepath.Join(stage, "etc/flowbox")); err != nil {
		return err
	}
	for _, e := range extra {
		src, dst, ok := strings.Cut(e, ":")
		if !ok || !filepath.IsAbs(dst) {
			return fmt.Errorf("-add %q: want SRC:/ABSOLUTE/DEST", e)
		}
		if err := put(src, dst, 0o644); err != nil {
			return err
		}
	}
	// Every profile must at least decode and parse (the devices do not
	// exist here, so the graph is not built).
	names, _ := os.ReadDir(filepath.Join(stage, "etc/flowbox/profiles"))
	for _, n := range names {
		f := "/etc/flowbox/profiles/" + n.Name() + "/boot.toml"
		if _, err := os.Stat(filepath.Join(stage, f)); err != nil {
			continue
		}
		set, err := boot.Load(f, boot.LoadOptions{Root: stage, SkipBuild: true})
		if err != nil {
			return fmt.Errorf("profile %s:\n%v", n.Name(), err)
		}
		if n.Name() == seed {
			if _, err := boot.SaveLKG(filepath.Join(stage, set.Config.LKGDir()), set); err != nil {
				return fmt.Errorf("seeding last-known-good: %v", err)
			}
			fmt.Fprintf(os.Stderr, "mkimage: last-known-good seeded with profile %s\n", seed)
		}
	}
	if seed != "" {
		if _, err := os.Stat(filepath.Join(stage, "etc/flowbox/profiles", seed, "boot.toml")); err != nil {
			return fmt.Errorf("-seed-lkg %s: no such profile", seed)
		}
	}

	// Kernel modules.
	if mods != "" {
		if modDir == "" {
			modDir = newestModules()
		}
		if modDir == "" {
			fmt.Fprintln(os.Stderr, "mkimage: warning: no /lib/modules: the image has no NIC modules (the kernel must have virtio_net built in)")
		} else {
			list, err := resolveModules(modDir, strings.Split(mods, ","))
			if err != nil {
				return err
			}
			var load []string
			for i, m := range list {
				dst := fmt.Sprintf("/lib/modules/flowbox/%02d-%s", i, filepath.Base(m))
				if err := put(filepath.Join(modDir, m), dst, 0o644); err != nil {
					return err
				}
				load = append(load, dst)
			}
			os.WriteFile(filepath.Join(stage, "lib/modules/flowbox/load"), []byte(strings.Join(load, "\n")+"\n"), 0o644)
			fmt.Fprintf(os.Stderr, "mkimage: modules from %s: %s\n", modDir, strings.Join(list, " "))
		}
	}
	return writeCpio(stage, out)
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		t := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(t, 0o755)
		}
		if d.Type()&fs.ModeSymlink != 0 {
			// A profile may link a script maintained elsewhere in the tree
			// (tracebox-station's probes): the image gets its content.
			if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
				return err
			}
		} else if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(t, b, 0o644)
	})
}

func newestModules() string {
	ents, _ := os.ReadDir("/lib/modules")
	var vs []string
	for _, e := range ents {
		if _, err := os.Stat(filepath.Join("/lib/modules", e.Name(), "modules.dep")); err == nil {
			vs = append(vs, e.Name())
		}
	}
	if len(vs) == 0 {
		return ""
	}
	sort.Strings(vs)
	return filepath.Join("/lib/modules", vs[len(vs)-1])
}

// resolveModules reads modules.dep and returns the modules' paths
// (relative to dir), dependencies first. Built-in modules (listed in
// modules.builtin) are skipped.
func resolveModules(dir string, want []string) ([]string, error) {
	f, err := os.Open(filepath.Join(dir, "modules.dep"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	deps := map[string][]string{}
	byName := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		mod, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		deps[mod] = strings.Fields(rest)
		byName[modName(mod)] = mod
	}
	builtin := map[string]bool{}
	if b, err := os.ReadFile(filepath.Join(dir, "modules.builtin")); err == nil {
		for _, l := range strings.Fields(string(b)) {
			builtin[modName(l)] = true
		}
	}
	var order []string
	seen := map[string]bool{}
	var visit func(m string)
	visit = func(m string) {
		if seen[m] {
			return
		}
		seen[m] = true
		for _, d := range deps[m] {
			visit(d)
		}
		order = append(order, m)
	}
	for _, w := range want {
		w = strings.TrimSpace(strings.ReplaceAll(w, "-", "_"))
		if w == "" || builtin[w] {
			continue
		}
		m, ok := byName[w]
		if !ok {
			return nil, errors.New("module " + w + " not found in " + dir + "/modules.dep (and not built in)")
		}
		visit(m)
	}
	return order, nil
}

func modName(path string) string {
	b := filepath.Base(path)
	if i := strings.Index(b, ".ko"); i >= 0 {
		b = b[:i]
	}
	return strings.ReplaceAll(b, "-", "_")
}

// writeCpio writes the staging tree as a newc cpio archive, gzip'd.
func writeCpio(stage, out string) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	tmp := out + ".tmp"
	fh, err := os.Create(tmp)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	gz, _ := gzip.NewWriterLevel(fh, gzip.BestCompression)
	w := cpio.NewWriter(gz)
	err = filepath.WalkDir(stage, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(stage, p)
		if rel == "." {
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		h := &cpio.Header{Name: rel, Mode: cpio.FileMode(fi.Mode().Perm()), ModTime: fi.ModTime(), Links: 1}
		var body []byte
		switch {
		case fi.IsDir():
			h.Mode |= cpio.TypeDir
		case fi.Mode()&os.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			h.Mode |= cpio.TypeSymlink
			h.Linkname = target
			body = []byte(target)
		default:
			h.Mode |= cpio.TypeReg
			if body, err = os.ReadFile(p); err != nil {
				return err
			}
		}
		h.Size = int64(len(body))
		if err := w.WriteHeader(h); err != nil {
			return err
		}
		_, err = w.Write(body)
		return err
	})
	if err == nil {
		err = w.Close()
	}
	if err == nil {
		err = gz.Close()
	}
	if err == nil {
		err = fh.Close()
	}
	if err != nil {
		fh.Close()
		return err
	}
	if err := os.Rename(tmp, out); err != nil {
		return err
	}
	st, _ := os.Stat(out)
	fmt.Fprintf(os.Stderr, "mkimage: wrote %s (%d KiB)\n", out, st.Size()/1024)
	return nil
}
