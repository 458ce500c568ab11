package lua

import (
	glua "github.com/yuin/gopher-lua"
)

// Hot reconfiguration support: values move between two states by value.

// CopyValue copies v, a value of another state, into m's state: strings,
// numbers and booleans as they are, tables recursively (shared and
// cyclic references stay shared; metatables are not copied); functions,
// userdata (packet handles, counters, prefixes), threads and channels
// become nil (in tables: the entry is left out). Tables nested deeper
// than 64 levels are cut there.
func (m *Machine) CopyValue(v glua.LValue) glua.LValue {
	return copyValue(m.L, v, map[*glua.LTable]*glua.LTable{}, 0)
}

const maxCopyDepth = 64

func copyValue(L *glua.LState, v glua.LValue, seen map[*glua.LTable]*glua.LTable, depth int) glua.LValue {
	switch x := v.(type) {
	case glua.LString, glua.LNumber, glua.LBool:
		return x
	case *glua.LTable:
		if t, ok := seen[x]; ok {
			return t
		}
		if depth >= maxCopyDepth {
			return glua.LNil
		}
		t := L.CreateTable(x.Len(), 0)
		seen[x] = t
		x.ForEach(func(k, val glua.LValue) {
			ck := copyValue(L, k, seen, depth+1)
			cv := copyValue(L, val, seen, depth+1)
			if ck != glua.LNil && cv != glua.LNil {
				t.RawSet(ck, cv)
			}
		})
		return t
	}
	return glua.LNil
}

// Counter returns the script counter name, creating it (as counter(name)
// does in the script).
func (m *Machine) Counter(name string) *Counter {
	for _, c := range m.env.counters {
		if c.Name == name {
			return c
		}
	}
	c := &Counter{Name: name}
	m.env.counters = append(m.env.counters, c)
	return c
}
