package standard

import (
	"flowbox/appliance/core"
	"flowbox/verify/sym"
)

// Packet generators declare what they emit (sym.Source): their DATA as a
// frame, so a requirement starting at one (`reach from src -> ...`) is
// checked on the packets it really sends.
func init() {
	sym.SetModel("RatedSource", sym.Model(func(e core.Element) (sym.Behavior, error) {
		return sym.DataSource{Data: e.(*RatedSource).tmpl.data}, nil
	}))
	sym.SetModel("InfiniteSource", sym.Model(func(e core.Element) (sym.Behavior, error) {
		return sym.DataSource{Data: e.(*InfiniteSource).tmpl.data}, nil
	}))
	sym.SetModel("TimedSource", sym.Model(func(e core.Element) (sym.Behavior, error) {
		return sym.DataSource{Data: e.(*TimedSource).tmpl.data}, nil
	}))
}
