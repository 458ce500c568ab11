package tracebox

import (
	"fmt"
	"strings"
)

// Format selects the output details.
type Format struct {
	NoResolve bool // -n: print addresses only
	Verbose   bool // -v
	Compat    bool // --compat: tracebox 0.4.4 output, bugs included
}

// Header is "tracebox to IP (HOST): N hops max\n". In compat mode it is
// empty unless TTL 1 is probed (the original's -M bug).
func (f Format) Header(r *Result) string {
	if f.Compat && r.MinTTL != 1 {
		return ""
	}
	return fmt.Sprintf("tracebox to %s (%s): %d hops max\n", r.Dst, r.Host, r.MaxTTL)
}

// DelayString is the delay as printed: real milliseconds with µs precision,
// or the original's integer (bugged) value in compat mode.
func (f Format) DelayString(h *Hop) string {
	if f.Compat {
		return fmt.Sprintf("%dms", h.CompatDelayUS()/1000)
	}
	return fmt.Sprintf("%.3fms", float64(h.Delay.Microseconds())/1000)
}

// Hop is one text line (with newline).
func (f Format) Hop(h *Hop) string {
	if h.Reply == nil {
		return fmt.Sprintf("%d: *\n", h.TTL)
	}
	who := h.From.String()
	if !f.NoResolve {
		name := h.Name
		if name == "" {
			name = who
		}
		who = name + " (" + who + ")"
	}
	mods := h.Mods.String()
	if f.Verbose {
		mods = h.Mods.VerboseString()
	}
	return fmt.Sprintf("%d: %s %s %s\n", h.TTL, who, f.DelayString(h), mods)
}

// Text renders a whole result.
func (f Format) Text(r *Result) string {
	var b strings.Builder
	b.WriteString(f.Header(r))
	for _, h := range r.Hops {
		b.WriteString(f.Hop(h))
	}
	return b.String()
}

// JSON renders the result in tracebox's (json-c) one-line format.
func (f Format) JSON(r *Result) string {
	var b strings.Builder
	b.WriteString("{ ")
	if !f.Compat || r.MinTTL == 1 {
		fmt.Fprintf(&b, "\"addr\": %s, \"name\": %s, \"max_hops\": %d, ", jstr(r.Dst.String()), jstr(r.Host), r.MaxTTL)
	}
	b.WriteString("\"Hops\": [ ")
	for i, h := range r.Hops {
		if i > 0 {
			b.WriteString(", ")
		}
		f.jsonHop(&b, h)
	}
	b.WriteString(" ] }")
	return b.String()
}

func (f Format) jsonHop(b *strings.Builder, h *Hop) {
	if h.Reply == nil {
		fmt.Fprintf(b, "{ \"hop\": %d, \"from\": \"*\" }", h.TTL)
		return
	}
	fmt.Fprintf(b, "{ \"hop\": %d, \"from\": %s, ", h.TTL, jstr(h.From.String()))
	if !f.NoResolve {
		fmt.Fprintf(b, "\"name\": %s, ", jstr(h.Name))
	}
	delay := h.Delay.Microseconds()
	if f.Compat {
		delay = h.CompatDelayUS()
	}
	fmt.Fprintf(b, "\"delay\": %d, ", delay)
	var mods, adds, dels []string
	for _, m := range h.Mods.Items {
		switch m.Kind {
		case ModChanged:
			if f.Verbose {
				mods = append(mods, fmt.Sprintf("{ %s: { \"Expected\": %s, \"Received\": %s } }", jstr(m.Name()), jstr(m.Old.String()), jstr(m.New.String())))
			} else {
				mods = append(mods, jstr(m.Name()))
			}
		case ModPayload:
			if f.Verbose {
				mods = append(mods, fmt.Sprintf("{ %s: { } }", jstr(m.Name())))
			} else {
				mods = append(mods, jstr(m.Name()))
			}
		case ModAdded, ModRemoved:
			s := jstr(m.Layer)
			if f.Verbose && m.L != nil {
				s = fmt.Sprintf("{ %s: { \"Info\": %s } }", jstr(m.Layer), jstr(m.L.String()))
			}
			if m.Kind == ModAdded {
				adds = append(adds, s)
			} else {
				dels = append(dels, s)
			}
		}
	}
	fmt.Fprintf(b, "\"Modifications\": %s, \"Additions\": %s, \"Deletions\": %s", jarr(mods), jarr(adds), jarr(dels))
	if len(h.Mods.Ext) > 0 {
		var ext []string
		for _, e := range h.Mods.Ext {
			if f.Verbose {
				ext = append(ext, jstr(e.String()))
			} else {
				ext = append(ext, jstr(e.Name()))
			}
		}
		fmt.Fprintf(b, ", \"ICMPExtensions\": %s", jarr(ext))
	}
	if !f.Compat {
		if h.Mods.Partial {
			b.WriteString(", \"partial\": true")
		}
		if h.Mods.Direct {
			fmt.Fprintf(b, ", \"Reply\": %s", jstr(h.Mods.Summary))
		}
	}
	b.WriteString(" }")
}

func jarr(items []string) string {
	if len(items) == 0 {
		return "[ ]"
	}
	return "[ " + strings.Join(items, ", ") + " ]"
}

// jstr escapes a string the way json-c does (including "\/").
func jstr(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '/':
			b.WriteString(`\/`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			if r < 0x20 {
				fmt.Fprintf(&b, `\u%04x`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}
