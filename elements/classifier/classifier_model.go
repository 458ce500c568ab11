package classifier

import (
	"fmt"

	"flowbox/appliance/core"
	"flowbox/elements/classifier/ipexpr"
	"flowbox/verify/sym"
)

// The models walk the same ASTs the runtime compiles (ipexpr.Parse and
// ParsePattern), rule by rule in order: the first matching rule wins.
func classify(x *sym.Ctx, s *sym.State, rules []ipexpr.ASTRule, b sym.Bases) {
	per, none := s.Classify(rules, b)
	for i, states := range per {
		for _, t := range states {
			if out := rules[i].Output; out >= 0 {
				x.Emit(out, t)
			} else {
				x.Drop(t, fmt.Sprintf("denied by rule %d", i))
			}
		}
	}
	for _, t := range none {
		x.Drop(t, "matched no pattern")
	}
}

func ipModel(rules []ipexpr.ASTRule) sym.Behavior {
	return sym.Push(func(x *sym.Ctx, _ int, s *sym.State) {
		b, ok := s.IPBases()
		if !ok {
			x.Drop(s, "no IP header annotation")
			return
		}
		classify(x, s, rules, b)
	})
}

func init() {
	sym.SetModel("Classifier", sym.Model(func(e core.Element) (sym.Behavior, error) {
		c := e.(*Classifier)
		rules := make([]ipexpr.ASTRule, len(c.patterns))
		for i, p := range c.patterns {
			n, err := ParsePattern(p)
			if err != nil {
				return nil, err
			}
			rules[i] = ipexpr.ASTRule{Expr: n, Output: i}
		}
		return sym.Push(func(x *sym.Ctx, _ int, s *sym.State) {
			classify(x, s, rules, sym.Bases{IP: s.Head, Trans: sym.Unset, MAC: sym.Unset})
		}), nil
	}))
	sym.SetModel("IPClassifier", sym.Model(func(e core.Element) (sym.Behavior, error) {
		c := e.(*IPClassifier)
		rs := make([]ipexpr.Rule, len(c.patterns))
		for i, p := range c.patterns {
			rs[i] = ipexpr.Rule{Expr: p, Output: i}
		}
		rules, err := ipexpr.ParseRules(rs)
		if err != nil {
			return nil, err
		}
		return ipModel(rules), nil
	}))
	sym.SetModel("IPFilter", sym.Model(func(e core.Element) (sym.Behavior, error) {
		f := e.(*IPFilter)
		var rs []ipexpr.Rule
		for _, arg := range core.NewArgs(f.Config()).Raw() {
			action, expr, off := splitAction(arg)
			out, err := f.action(action)
			if err != nil {
				return nil, err
			}
			rs = append(rs, ipexpr.Rule{Expr: expr, Output: out, Offset: off})
		}
		rules, err := ipexpr.ParseRules(rs)
		if err != nil {
			return nil, err
		}
		return ipModel(rules), nil
	}))
}
