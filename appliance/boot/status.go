package boot

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// Source says where the running configuration came from.
type Source string

const (
	// SourceBootFile: the boot file loaded and runs.
	SourceBootFile Source = "boot-file"
	// SourceLKG: the boot file failed; the last-known-good set runs.
	SourceLKG Source = "last-known-good"
	// SourceRescue: nothing usable; only the control socket and shell run.
	SourceRescue Source = "rescue"
)

// Status is the appliance's boot state, shown by the shell's `show boot`
// and exported as metrics (flowbox_degraded, flowbox_boot_info).
type Status struct {
	Profile    string
	BootFile   string
	Source     Source
	Degraded   bool
	Reason     string // why degraded (first error line)
	Elements   int
	Interfaces []string
	Since      time.Time
	LKGSaved   time.Time // when the running or stored LKG set was saved
	LKGDir     string
}

var (
	statusMu sync.RWMutex
	status   Status
)

// SetStatus publishes the appliance's status.
func SetStatus(s Status) {
	statusMu.Lock()
	status = s
	statusMu.Unlock()
}

// UpdateStatus changes the published status under its lock.
func UpdateStatus(f func(*Status)) {
	statusMu.Lock()
	f(&status)
	statusMu.Unlock()
}

// CurrentStatus returns the published status (zero when flowbox was not
// started by `flowbox boot`).
func CurrentStatus() Status {
	statusMu.RLock()
	defer statusMu.RUnlock()
	s := status
	s.Interfaces = append([]string(nil), status.Interfaces...)
	return s
}

// String renders the status for `show boot`.
func (s Status) String() string {
	if s.Source == "" {
		return "not started by 'flowbox boot'\n"
	}
	var b strings.Builder
	state := "ok"
	if s.Degraded {
		state = "DEGRADED"
	}
	fmt.Fprintf(&b, "state:       %s\n", state)
	if s.Reason != "" {
		fmt.Fprintf(&b, "reason:      %s\n", s.Reason)
	}
	fmt.Fprintf(&b, "profile:     %s\n", s.Profile)
	fmt.Fprintf(&b, "running:     %s\n", s.Source)
	fmt.Fprintf(&b, "boot file:   %s\n", s.BootFile)
	fmt.Fprintf(&b, "elements:    %d\n", s.Elements)
	fmt.Fprintf(&b, "interfaces:  %s\n", strings.Join(s.Interfaces, ","))
	if !s.Since.IsZero() {
		fmt.Fprintf(&b, "since:       %s\n", s.Since.UTC().Format(time.RFC3339))
	}
	lkg := "none"
	if !s.LKGSaved.IsZero() {
		lkg = "saved " + s.LKGSaved.UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(&b, "last-known-good: %s (%s)\n", lkg, s.LKGDir)
	return b.String()
}
