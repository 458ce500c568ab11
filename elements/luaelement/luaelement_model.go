package luaelement

import (
	"flowbox/verify/sym"
)

// A script can do anything to a packet: the verifier treats LuaElement as
// opaque (In-Net's arbitrary x86 VM), so paths through it are unprovable
// and third-party modules using it are sandboxed.
func init() {
	sym.SetModel("LuaElement", sym.Opaque{Reason: "runs an arbitrary Lua script"})
}
