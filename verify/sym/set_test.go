package sym

import "testing"

func TestNegateHoldsExactlyWhereTheOperatorDoesNot(t *testing.T) {
	for _, c := range []Cmp{EQ, NE, LT, GT, LE, GE} {
		for _, sign := range []int{-1, 0, 1} {
			if c.holds(sign) == c.Negate().holds(sign) {
				t.Errorf("op %d and its negation %d agree on sign %d", c, c.Negate(), sign)
			}
		}
	}
}
