package boot

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// The last-known-good store is a directory (default
// /var/lib/flowbox/lkg) holding one snapshot, current/:
//
//	current/manifest.json   what was saved, when, from which boot file
//	current/root/<path>     every file of the set at its absolute path
//
// A snapshot is written beside it (.new-PID) and renamed into place, so a
// power cut leaves either the old or the new snapshot, never half of one.

// Manifest describes a last-known-good snapshot.
type Manifest struct {
	// BootFile is the boot file's path on the box.
	BootFile string    `json:"boot_file"`
	Profile  string    `json:"profile"`
	Saved    time.Time `json:"saved"`
	// Files are the absolute paths kept under root/.
	Files []string `json:"files"`
	// Digest is the SHA-256 over the files' names and contents.
	Digest string `json:"digest"`
	// Dir is the snapshot directory (not stored).
	Dir string `json:"-"`
}

// ErrNoLKG is returned by LoadLKG when the store holds no snapshot.
var ErrNoLKG = errors.New("no last-known-good configuration")

func digest(files map[string][]byte) string {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(files[n]))
		h.Write(files[n])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ReadManifest reads the manifest of the store in dir.
func ReadManifest(dir string) (*Manifest, error) {
	cur := filepath.Join(dir, "current")
	b, err := os.ReadFile(filepath.Join(cur, "manifest.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoLKG
	}
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %v", filepath.Join(cur, "manifest.json"), err)
	}
	if m.BootFile == "" || !filepath.IsAbs(m.BootFile) {
		return nil, fmt.Errorf("%s: no boot_file", filepath.Join(cur, "manifest.json"))
	}
	m.Dir = cur
	return &m, nil
}

// SaveLKG stores s as the last-known-good set in dir. It returns false
// when the store already holds exactly this set.
func SaveLKG(dir string, s *Set) (bool, error) {
	d := digest(s.Files)
	if m, err := ReadManifest(dir); err == nil && m.Digest == d {
		return false, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false, err
	}
	tmp := filepath.Join(dir, fmt.Sprintf(".new-%d", os.Getpid()))
	os.RemoveAll(tmp)
	m := Manifest{BootFile: s.BootFile, Profile: s.Profile(), Saved: time.Now().UTC(), Digest: d}
	for abs, b := range s.Files {
		dst := filepath.Join(tmp, "root", abs)
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return false, err
		}
		if err := writeSync(dst, b, 0o600); err != nil {
			return false, err
		}
		m.Files = append(m.Files, abs)
	}
	sort.Strings(m.Files)
	mb, _ := json.MarshalIndent(&m, "", "  ")
	if err := writeSync(filepath.Join(tmp, "manifest.json"), append(mb, '\n'), 0o600); err != nil {
		return false, err
	}
	cur := filepath.Join(dir, "current")
	old := filepath.Join(dir, ".old")
	os.RemoveAll(old)
	if err := os.Rename(cur, old); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	if err := os.Rename(tmp, cur); err != nil {
		os.Rename(old, cur)
		return false, err
	}
	os.RemoveAll(old)
	if f, err := os.Open(dir); err == nil {
		f.Sync()
		f.Close()
	}
	return true, nil
}

func writeSync(name string, b []byte, mode os.FileMode) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// LoadLKG loads the last-known-good set from the store in dir. The set's
// files are read from the snapshot, not from where they were.
func LoadLKG(dir string, o LoadOptions) (*Set, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	o.Root = filepath.Join(m.Dir, "root")
	s, err := Load(m.BootFile, o)
	if err != nil {
		return nil, fmt.Errorf("last-known-good set in %s does not load: %w", m.Dir, err)
	}
	s.LKG = m
	return s, nil
}
