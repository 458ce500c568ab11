package main

import (
	"fmt"
	"os"

	"flowbox/appliance/lang"
	"flowbox/appliance/runtime"
	"flowbox/lua"
)

// loadHooks loads the operator's Lua policy hooks (--hooks FILE) and makes
// them active (LuaFlowHook elements and tracebox use the active set). It
// returns the approval function the runtime asks before installing any
// configuration, the first one and every hot reload.
func loadHooks(path string) (func(*lang.Graph) error, error) {
	if path == "" {
		return nil, nil
	}
	h, err := lua.LoadHooks(path, lua.HookOptions{})
	if err != nil {
		return nil, fmt.Errorf("hooks: %v", err) // err names the file
	}
	lua.SetActiveHooks(h)
	if !h.Has("on_config") {
		return nil, nil
	}
	return func(g *lang.Graph) error { return approveConfig(h, g) }, nil
}

// approveConfig asks on_config; a hook that fails or times out rejects the
// configuration (fail closed) with its error as the reason.
func approveConfig(h *lua.Hooks, g *lang.Graph) error {
	req := lua.ConfigRequest{Text: lang.Unparse(g)}
	if len(g.Elements) > 0 {
		req.Name = g.Elements[0].Pos.File
	}
	for _, e := range g.Elements {
		req.Elements = append(req.Elements, lua.ElementInfo{Name: e.Name, Class: e.Class, Config: e.Config})
	}
	ok, reason, err := h.OnConfig(req)
	if err != nil && ok {
		// Not expected (a failing hook rejects), but never silent. A
		// rejection already carries the error in its reason.
		fmt.Fprintf(os.Stderr, "flowbox: on_config hook failed: %v\n", err)
	}
	if !ok {
		if reason == "" && err != nil {
			reason = err.Error()
		}
		return &runtime.RejectedError{Reason: reason}
	}
	return nil
}
