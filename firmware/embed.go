// Package firmware holds the appliance's boot-time assets: the embedded
// default configuration (what `flowbox run` runs with no file), box
// profiles and the image build.
package firmware

import _ "embed"

// DefaultConfig is firmware/default.click, compiled into the binary. It
// needs no NIC and no privileges.
//
//go:embed default.click
var DefaultConfig []byte

// DefaultConfigName is the name errors in the default config report.
const DefaultConfigName = "firmware/default.click"
