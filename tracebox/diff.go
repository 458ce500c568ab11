package tracebox

import (
	"sort"
	"strings"
)

// ModKind classifies a modification.
type ModKind uint8

// Modification kinds.
const (
	ModChanged ModKind = iota // Layer::Field
	ModAdded                  // +Layer
	ModRemoved                // -Layer
	ModPayload                // Layer (same-size payload change)
)

// Mod is one modification, named as tracebox names it.
type Mod struct {
	Kind  ModKind
	Layer string
	Field string
	Old   Field
	New   Field
	L     *Layer // the added/removed layer (for verbose dumps)
}

// Name is the non-verbose name: "IP::TTL", "+TCPOptionMaxSegSize", ...
func (m Mod) Name() string {
	switch m.Kind {
	case ModChanged:
		return m.Layer + "::" + m.Field
	case ModAdded:
		return "+" + m.Layer
	case ModRemoved:
		return "-" + m.Layer
	}
	return m.Layer
}

// Verbose is the -v form: "IP::TTL (2 -> 1)", "+X <dump>".
func (m Mod) Verbose() string {
	switch m.Kind {
	case ModChanged:
		return m.Name() + " (" + m.Old.String() + " -> " + m.New.String() + ")"
	case ModAdded, ModRemoved:
		if m.L != nil {
			return m.Name() + " " + m.L.String()
		}
	}
	return m.Name()
}

// Mods is the result of comparing a probe with what came back.
type Mods struct {
	Original *Packet // the probe as sent at this TTL (crafted)
	Received *Packet // the quote (ICMP error) or the direct reply; nil if silent
	Partial  bool
	Items    []Mod
	Ext      []*Layer
	// Direct is set when the reply was not an ICMP error (e.g. SYN/ACK) and
	// was not diffed (default mode); Summary then describes it.
	Direct  bool
	Summary string
	// Reply is the whole packet that answered (the ICMP error with its
	// quote, or the direct reply); nil if silent.
	Reply *Packet
}

// DiffOptions tunes Diff.
type DiffOptions struct {
	// ComparePartial compares the 8 bytes of a PartialTCP quote (ports and
	// sequence number) with the probe's TCP header, as the 2013 tracebox
	// did; reported as PartialTCP::Field. Off in --compat mode.
	ComparePartial bool
}

// Diff compares two packets the way tracebox 0.4.4 does: for every protocol
// id present on either side, in ascending id order, the first layer of that
// id on each side is compared field by field, then by payload.
func Diff(orig, recv *Packet, partial bool, o DiffOptions) []Mod {
	ids := map[uint32]bool{}
	first := func(p *Packet, id uint32) *Layer {
		if p == nil {
			return nil
		}
		for _, l := range p.Layers {
			if l.ext == "" && l.ProtoID() == id {
				return l
			}
		}
		return nil
	}
	for _, p := range []*Packet{orig, recv} {
		if p == nil {
			continue
		}
		for _, l := range p.Layers {
			if l.ext == "" {
				ids[l.ProtoID()] = true
			}
		}
	}
	order := make([]uint32, 0, len(ids))
	for id := range ids {
		order = append(order, id)
	}
	sort.Slice(order, func(i, j int) bool { return order[i] < order[j] })
	var out []Mod
	for _, id := range order {
		a, b := first(orig, id), first(recv, id)
		switch {
		case a != nil && b != nil:
			name := a.Name()
			for _, fa := range a.F {
				fb, ok := b.Get(fa.Name)
				if !ok || !fa.equal(fb) {
					out = append(out, Mod{Kind: ModChanged, Layer: name, Field: fa.Name, Old: fa, New: fb})
				}
			}
			switch {
			case len(b.Data) > len(a.Data):
				out = append(out, Mod{Kind: ModAdded, Layer: name, L: b})
			case len(b.Data) < len(a.Data):
				out = append(out, Mod{Kind: ModRemoved, Layer: name, L: a})
			case string(a.Data) != string(b.Data):
				out = append(out, Mod{Kind: ModPayload, Layer: name})
			}
		case a != nil:
			if !partial {
				out = append(out, Mod{Kind: ModRemoved, Layer: a.Name(), L: a})
			}
		case b != nil:
			out = append(out, Mod{Kind: ModAdded, Layer: b.Name(), L: b})
			if b.Kind == KPartialTCP && o.ComparePartial {
				if t := orig.First(KTCP); t != nil {
					for i, f := range b.F {
						if f.V != t.F[i].V {
							out = append(out, Mod{Kind: ModChanged, Layer: "PartialTCP", Field: f.Name, Old: t.F[i], New: f})
						}
					}
				}
			}
		}
	}
	return out
}

// String is the list the CLI prints (non-verbose), as tracebox prints it:
// " [PARTIAL] " prefix, every element followed by one space, extensions as
// "[Extra headers: A B ] ".
func (m *Mods) String() string { return m.format(false) }

// VerboseString is the -v form.
func (m *Mods) VerboseString() string { return m.format(true) }

func (m *Mods) format(verbose bool) string {
	if m == nil {
		return ""
	}
	var b strings.Builder
	if m.Partial {
		b.WriteString(" [PARTIAL] ")
	}
	for _, it := range m.Items {
		if verbose {
			b.WriteString(it.Verbose())
		} else {
			b.WriteString(it.Name())
		}
		b.WriteByte(' ')
	}
	if len(m.Ext) > 0 {
		b.WriteString("[Extra headers: ")
		for _, e := range m.Ext {
			if verbose {
				b.WriteString(e.String())
			} else {
				b.WriteString(e.Name())
			}
			b.WriteByte(' ')
		}
		b.WriteString("] ")
	}
	if m.Direct && m.Summary != "" {
		b.WriteString("[Reply: " + m.Summary + "] ")
	}
	return b.String()
}

// Names returns the non-verbose names of the items of a kind.
func (m *Mods) Names(kinds ...ModKind) []string {
	var out []string
	for _, it := range m.Items {
		for _, k := range kinds {
			if it.Kind == k {
				out = append(out, it.Name())
			}
		}
	}
	return out
}

// Has reports whether a modification with this non-verbose name exists.
func (m *Mods) Has(name string) bool {
	if m == nil {
		return false
	}
	for _, it := range m.Items {
		if it.Name() == name {
			return true
		}
	}
	return false
}
