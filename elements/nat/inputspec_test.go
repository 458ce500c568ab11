package nat

import (
	"strings"
	"testing"
)

func TestParseInputSpec(t *testing.T) {
	tests := []struct {
		spec string
		want InputSpec
	}{
		{"drop", InputSpec{Kind: SpecDrop}},
		{"discard", InputSpec{Kind: SpecDrop}},
		{"pass", InputSpec{Kind: SpecPass}},
		{"pass 2", InputSpec{Kind: SpecPass, FOut: 2, ROut: 2}},
		{"nochange 1", InputSpec{Kind: SpecPass, FOut: 1, ROut: 1}},
		{"keep 0 1", InputSpec{Kind: SpecKeep, FOut: 0, ROut: 1}},
		{"pattern 1.0.0.1 1024-65535 - - 0 1", InputSpec{Kind: SpecPattern, FOut: 0, ROut: 1,
			Pattern: Pattern{SrcLo: ip4("1.0.0.1"), SrcHi: ip4("1.0.0.1"), SportLo: 1024, SportHi: 65535,
				KeepDst: true, KeepDport: true, SameFirst: true}}},
		{"pattern - - 10.0.0.9 80 1 0", InputSpec{Kind: SpecPattern, FOut: 1, ROut: 0,
			Pattern: Pattern{KeepSrc: true, KeepSport: true, Dst: ip4("10.0.0.9"), Dport: 80, SameFirst: true}}},
		{"pattern 1.0.0.1 5000 - - 0 0", InputSpec{Kind: SpecPattern,
			Pattern: Pattern{SrcLo: ip4("1.0.0.1"), SrcHi: ip4("1.0.0.1"), SportLo: 5000, SportHi: 5000,
				KeepDst: true, KeepDport: true, SameFirst: true}}},
		{"pattern 1.0.0.1 1024-2047# - - 0 1", InputSpec{Kind: SpecPattern, ROut: 1,
			Pattern: Pattern{SrcLo: ip4("1.0.0.1"), SrcHi: ip4("1.0.0.1"), SportLo: 1024, SportHi: 2047,
				KeepDst: true, KeepDport: true, Sequential: true}}},
		{"pattern 1.0.0.1 1024-2047? - - 0 1", InputSpec{Kind: SpecPattern, ROut: 1,
			Pattern: Pattern{SrcLo: ip4("1.0.0.1"), SrcHi: ip4("1.0.0.1"), SportLo: 1024, SportHi: 2047,
				KeepDst: true, KeepDport: true}}},
		{"pattern 1.0.0.1-1.0.0.4 - - - 0 1", InputSpec{Kind: SpecPattern, ROut: 1,
			Pattern: Pattern{SrcLo: ip4("1.0.0.1"), SrcHi: ip4("1.0.0.4"), KeepSport: true,
				KeepDst: true, KeepDport: true, SameFirst: true}}},
		{"pattern 1.0.0.0/24 - - - 0 1", InputSpec{Kind: SpecPattern, ROut: 1,
			Pattern: Pattern{SrcLo: ip4("1.0.0.1"), SrcHi: ip4("1.0.0.254"), KeepSport: true,
				KeepDst: true, KeepDport: true, SameFirst: true}}},
		{"pattern 1.0.0.7/24 - - - 0 1", InputSpec{Kind: SpecPattern, ROut: 1,
			Pattern: Pattern{SrcLo: ip4("1.0.0.1"), SrcHi: ip4("1.0.0.254"), KeepSport: true,
				KeepDst: true, KeepDport: true, SameFirst: true}}},
		{"pattern 1.0.0.4/31 - - - 0 1", InputSpec{Kind: SpecPattern, ROut: 1,
			Pattern: Pattern{SrcLo: ip4("1.0.0.4"), SrcHi: ip4("1.0.0.5"), KeepSport: true,
				KeepDst: true, KeepDport: true, SameFirst: true}}},
		{"pattern 1.0.0.4/32 - - - 0 1", InputSpec{Kind: SpecPattern, ROut: 1,
			Pattern: Pattern{SrcLo: ip4("1.0.0.4"), SrcHi: ip4("1.0.0.4"), KeepSport: true,
				KeepDst: true, KeepDport: true, SameFirst: true}}},
		{"pattern 1.0.0.1 2.0.0.2 0 1", InputSpec{Kind: SpecPattern, ROut: 1,
			Pattern: Pattern{SrcLo: ip4("1.0.0.1"), SrcHi: ip4("1.0.0.1"), KeepSport: true,
				Dst: ip4("2.0.0.2"), KeepDport: true, SameFirst: true}}},
	}
	for _, tt := range tests {
		got, err := ParseInputSpec(tt.spec)
		if err != nil {
			t.Errorf("ParseInputSpec(%q): %v", tt.spec, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseInputSpec(%q) =\n  %+v\nwant\n  %+v", tt.spec, got, tt.want)
		}
	}
}

func TestParseInputSpecErrors(t *testing.T) {
	tests := []struct{ spec, wantErr string }{
		{"", "empty"},
		{"frobnicate", "unknown input spec"},
		{"drop 1", "syntax error"},
		{"pass x", "syntax error"},
		{"pass 1 2", "syntax error"},
		{"keep 1", "expected FOUTPUT ROUTPUT"},
		{"keep a 1", "bad forward output"},
		{"keep 0 -1", "bad reply output"},
		{"pattern 1.0.0.1 1024 - 0 1", "syntax error"},
		{"pattern NAME 0 1", "named patterns"},
		{"pattern 1.0.0.300 - - - 0 1", "bad source address"},
		{"pattern 1.0.0.5-1.0.0.1 - - - 0 1", "bad source address"},
		{"pattern 1.0.0.1/33 - - - 0 1", "bad source address"},
		{"pattern 1.0.0.1 0 - - 0 1", "bad source port"},
		{"pattern 1.0.0.1 70000 - - 0 1", "bad source port"},
		{"pattern 1.0.0.1 2000-1000 - - 0 1", "bad source port"},
		{"pattern 1.0.0.1 1000- - - 0 1", "bad source port"},
		{"pattern - - ::1 - 0 1", "bad destination address"},
		{"pattern - - - 0 0 1", "bad destination port"},
		{"pattern - - - 65536 0 1", "bad destination port"},
	}
	for _, tt := range tests {
		_, err := ParseInputSpec(tt.spec)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("ParseInputSpec(%q) error = %v, want it to mention %q", tt.spec, err, tt.wantErr)
		}
	}
}

func TestInputSpecString(t *testing.T) {
	tests := []struct{ spec, str, summary string }{
		{"discard", "drop", "<drop>"},
		{"pass 3", "pass 3", "<nochange>"},
		{"keep 0 1", "keep 0 1", "<keep>"},
		{"pattern 1.0.0.1 1024-65535 - - 0 1", "pattern 1.0.0.1 1024-65535 - - 0 1", "1.0.0.1 1024-65535 - -"},
		{"pattern 1.0.0.1 1024-2047# 2.0.0.2 80 1 0", "pattern 1.0.0.1 1024-2047# 2.0.0.2 80 1 0", "1.0.0.1 1024-2047# 2.0.0.2 80"},
		{"pattern 1.0.0.0/30 - - - 0 1", "pattern 1.0.0.1-1.0.0.2 - - - 0 1", "1.0.0.1-1.0.0.2 - - -"},
		{"pattern 1.0.0.1 2.0.0.2 0 1", "pattern 1.0.0.1 - 2.0.0.2 - 0 1", "1.0.0.1 - 2.0.0.2 -"},
	}
	for _, tt := range tests {
		is, err := ParseInputSpec(tt.spec)
		if err != nil {
			t.Fatalf("ParseInputSpec(%q): %v", tt.spec, err)
		}
		if got := is.String(); got != tt.str {
			t.Errorf("String(%q) = %q, want %q", tt.spec, got, tt.str)
		}
		if got := is.Summary(); got != tt.summary {
			t.Errorf("Summary(%q) = %q, want %q", tt.spec, got, tt.summary)
		}
	}
}

// FuzzParseInputSpec checks that the parser never panics and that every
// spec it accepts prints to a form it reads back identically.
func FuzzParseInputSpec(f *testing.F) {
	for _, s := range []string{
		"drop", "discard", "pass", "pass 1", "keep 0 1",
		"pattern 1.0.0.1 1024-65535 - - 0 1", "pattern - - 10.0.0.1 80 0 1",
		"pattern 1.0.0.1 1024-2047# - - 0 1", "pattern 1.0.0.0/24 2000-3000? - - 1 0",
		"pattern 1.0.0.1-1.0.0.9 - - - 0 1", "pattern 1.0.0.1 2.0.0.2 0 1",
		"pattern 1.0.0.1 - - 0 1", "pattern 1.0.0.1/31# - - - 0 0", "pattern",
		"keep", "pass -1", "pattern 1.2.3.4 0-0 - - 0 1", "pattern \"x y\" - - - 0 1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		is, err := ParseInputSpec(s)
		if err != nil {
			return
		}
		printed := is.String()
		again, err := ParseInputSpec(printed)
		if err != nil {
			t.Fatalf("%q printed as %q, which does not parse: %v", s, printed, err)
		}
		if again.String() != printed {
			t.Fatalf("%q printed as %q, then as %q", s, printed, again.String())
		}
		if is.Kind == SpecPattern {
			p := is.Pattern
			if (!p.KeepSrc && p.SrcHi < p.SrcLo) || (!p.KeepSport && (p.SportLo == 0 || p.SportHi < p.SportLo)) {
				t.Fatalf("%q gave an empty range: %+v", s, p)
			}
		}
	})
}
