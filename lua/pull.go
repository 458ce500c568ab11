package lua

import (
	"fmt"

	"flowbox/appliance/packet"

	glua "github.com/yuin/gopher-lua"
)

// Pull path. A scripted element in a pull context calls the script's
// pull(port) once per packet it hands downstream; inside that call the
// script takes packets from its inputs with input(i):
//
//	function pull(port)
//	  local p = input(0)            -- next packet of input 0, or nil
//	  while p and p:udp() and p:udp():dport() == 53 do
//	    p = input(0)                -- taken and not returned: dropped
//	  end
//	  return p                      -- a packet handle, or nil for none
//	end
//
// Handles from input() (and their clones) are valid during the call;
// every one of them except the returned packet is dropped when the call
// ends. One call takes at most packet.MaxBatch packets (input() then
// returns nil).

// InputFunc supplies input(port) during a pull call: the next packet of
// input port (nil when it has none) and false when the port does not exist.
type InputFunc func(port int) (*packet.Packet, bool)

type pullState struct {
	input   InputFunc
	active  bool // inside PullOne
	taken   int  // handles bound by input() in this call
	inputFn *glua.LFunction
}

// installInput defines the global input(port).
func (m *Machine) installInput() {
	m.pull.inputFn = m.L.NewFunction(func(L *glua.LState) int {
		ps := &m.pull
		port := L.CheckInt(1)
		if !ps.active || ps.input == nil {
			L.RaiseError("input() is only available during pull(port)")
		}
		if ps.taken >= packet.MaxBatch {
			L.Push(glua.LNil) // this call has taken all it may
			return 1
		}
		p, ok := ps.input(port)
		if !ok {
			L.ArgError(1, fmt.Sprintf("no input %d", port))
		}
		if p == nil {
			L.Push(glua.LNil)
			return 1
		}
		s := m.set.slots[ps.taken]
		ps.taken++
		s.point(p, 0)
		L.Push(s.ud)
		return 1
	})
	m.L.G.Global.RawSetString("input", m.pull.inputFn)
}

// SetInput installs the source of input(port); pool is used for
// copy-on-write and clones during pull calls.
func (m *Machine) SetInput(pool *packet.Pool, f InputFunc) {
	m.set.pool = pool
	m.pull.input = f
}

// PullOne calls fn(port) and returns the packet it returned (nil for
// nil/false). Afterwards Taken() handles are bound (Packet(0..Taken()-1))
// and NClones() clones exist; the caller owns them all (the returned one
// among them) and must Release(Taken()).
func (m *Machine) PullOne(fn *glua.LFunction, port int) (*packet.Packet, error) {
	L := m.L
	ps := &m.pull
	ps.active, ps.taken = true, 0
	m.set.nclones = 0
	L.Push(fn)
	L.Push(num(port))
	err := m.pcall(1, 1)
	ps.active = false
	if err != nil {
		return nil, err
	}
	r := L.Get(-1)
	L.Pop(1)
	switch v := r.(type) {
	case *glua.LNilType:
		return nil, nil
	case glua.LBool:
		if !v {
			return nil, nil
		}
	case *glua.LUserData:
		if s, ok := v.Value.(*slot); ok && s.p != nil && m.ownsSlot(s) {
			return s.p, nil
		}
		return nil, &ScriptError{Msg: fmt.Sprintf("%s: pull returned a packet handle that did not come from input() or clone() in this call", m.Prog.Name)}
	}
	return nil, &ScriptError{Msg: fmt.Sprintf("%s: pull returned a %s, not a packet", m.Prog.Name, r.Type())}
}

func (m *Machine) ownsSlot(s *slot) bool {
	for i := 0; i < m.pull.taken; i++ {
		if m.set.slots[i] == s {
			return true
		}
	}
	for i := 0; i < m.set.nclones; i++ {
		if m.set.clones[i] == s {
			return true
		}
	}
	return false
}

// Taken is the number of packets input() handed out in the last PullOne.
func (m *Machine) Taken() int { return m.pull.taken }
