package lua

import (
	"sync"

	glua "github.com/yuin/gopher-lua"
)

// Boxing a float64 into an LValue interface allocates; header fields are
// almost always 16-bit, so 0..65535 are boxed once and shared (read-only,
// safe across states).
var (
	boxOnce sync.Once
	boxed   []glua.LValue
)

func initBoxed() {
	boxOnce.Do(func() {
		boxed = make([]glua.LValue, 65536)
		for i := range boxed {
			boxed[i] = glua.LNumber(i)
		}
	})
}

// num returns v as a Lua number, without allocating for 0..65535.
func num(v int) glua.LValue {
	if v >= 0 && v < len(boxed) {
		return boxed[v]
	}
	return glua.LNumber(v)
}

func num64(v uint64) glua.LValue {
	if v < uint64(len(boxed)) {
		return boxed[v]
	}
	return glua.LNumber(v)
}

// Number returns n as a Lua value.
func Number(n float64) glua.LValue { return glua.LNumber(n) }

// MaxArrayIndex bounds gopher-lua's array part: an integer key below it is
// stored in a table's array, which is grown to that index (t[16843009] = 1
// would allocate 256 MiB). IPv4 addresses as numbers are natural table
// keys in packet scripts, so the bound is lowered from 64Mi to 256Ki:
// larger keys go to the hash part. Consequence: the length operator #t
// only counts the array part, so sequences longer than 256Ki elements
// report a wrong length. This is a gopher-lua package variable (process-
// wide); it is set once, before any state exists.
const MaxArrayIndex = 1 << 18

func init() { glua.MaxArrayIndex = MaxArrayIndex }
