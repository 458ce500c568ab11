package ids

import "errors"

// maxStates bounds the automaton (its transition table is 1 KiB a state).
const maxStates = 1 << 16

// matcher is an Aho-Corasick automaton compiled to a full DFA: one
// transition lookup per input byte, no failure-link walks, no allocation.
type matcher struct {
	delta []int32 // state<<8 | byte -> next state
	// outStart[s]..outStart[s+1] index outs: the patterns that end at
	// state s, those reached through failure links included.
	outStart []int32
	outs     []uint16
	fold     [256]byte // input byte map (identity, or ASCII lower-casing)
}

// compile builds the automaton for pats. With nocase, ASCII letters match
// either case.
func compile(pats [][]byte, nocase bool) (*matcher, error) {
	m := &matcher{}
	for i := range m.fold {
		c := byte(i)
		if nocase && c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		m.fold[i] = c
	}
	// Trie with sparse children, then the DFA.
	type node struct {
		next map[byte]int32
		out  []uint16
	}
	nodes := []node{{next: map[byte]int32{}}}
	for pi, p := range pats {
		if len(p) == 0 {
			return nil, errors.New("empty pattern")
		}
		s := int32(0)
		for _, c := range p {
			c = m.fold[c]
			n, ok := nodes[s].next[c]
			if !ok {
				if len(nodes) >= maxStates {
					return nil, errors.New("patterns too large (more than 65536 automaton states)")
				}
				n = int32(len(nodes))
				nodes = append(nodes, node{next: map[byte]int32{}})
				nodes[s].next[c] = n
			}
			s = n
		}
		nodes[s].out = append(nodes[s].out, uint16(pi))
	}
	ns := len(nodes)
	m.delta = make([]int32, ns<<8)
	fail := make([]int32, ns)
	// Breadth-first: a state's transitions are its trie edges, else its
	// failure state's transitions (already complete, being shallower).
	queue := make([]int32, 0, ns)
	for c := 0; c < 256; c++ {
		if n, ok := nodes[0].next[byte(c)]; ok {
			m.delta[c] = n
			fail[n] = 0
			queue = append(queue, n)
		}
	}
	for qi := 0; qi < len(queue); qi++ {
		s := queue[qi]
		nodes[s].out = append(nodes[s].out, nodes[fail[s]].out...)
		for c := 0; c < 256; c++ {
			if n, ok := nodes[s].next[byte(c)]; ok {
				fail[n] = m.delta[int(fail[s])<<8|c]
				m.delta[int(s)<<8|c] = n
				queue = append(queue, n)
			} else {
				m.delta[int(s)<<8|c] = m.delta[int(fail[s])<<8|c]
			}
		}
	}
	m.outStart = make([]int32, ns+1)
	for s := 0; s < ns; s++ {
		m.outStart[s+1] = m.outStart[s] + int32(len(nodes[s].out))
		m.outs = append(m.outs, nodes[s].out...)
	}
	// Unmapped input bytes must follow the folded transitions.
	if nocase {
		for s := 0; s < ns; s++ {
			for c := 'A'; c <= 'Z'; c++ {
				m.delta[s<<8|int(c)] = m.delta[s<<8|int(c+'a'-'A')]
			}
		}
	}
	return m, nil
}

// states is the automaton size.
func (m *matcher) states() int { return len(m.outStart) - 1 }
