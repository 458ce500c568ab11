package lang

import (
	"errors"
	"testing"
)

var fuzzSeeds = []string{
	"",
	"a :: Queue(10); Idle -> a -> Discard;",
	"a, b :: Idle; a, b -> x :: Discard",
	"c :: Tee; c [0,1,2] => Paint(0), Paint(1), Paint(2) -> Discard",
	"c :: Tee; c [0-2] => [] m :: RoundRobinSched",
	"Idle -> ( [0] -> Counter -> [0] ) -> Discard",
	"elementclass F { $a, KW $k, __REST__ $r | input -> Paint($a $k $r) -> output || ... }\nIdle -> F(1, KW 2, x) -> Discard",
	"elementclass Queue { input -> Queue -> output }\nIdle -> Queue -> Discard",
	"x :: { input [0] -> [1] output; input [1] -> [0] output }; Idle, Idle => x => Discard, Discard",
	"define($A 1 2, $B x)\nq :: Queue(${A[1]} ${B-y} '$A' \"$B\")",
	"require(package p, library lib.click, compact_config)",
	"# 10 \"f.click\"\n#line 3 \"g\"\na :: Idle // c\n/* d */",
	"->Null;",
	"a :: Queue(10",
	"c :: { input -> Counter -> input }",
	"a -> b; a :: ; [x] -> ; } ) || $v",
	"elementclass { ",
	"x :: Tee; x [0,1] -> y :: Discard; x [0,1] => [0-2] y",
	"p :: Print(\"unterminated",
	"( ( ( -> ) ) )",
	"elementclass A { X X X X } elementclass B { A A A A } elementclass C { B B B B } C C",
	"a/b//c :: Idle; 1/x :: Idle; @1 :: Idle; a/ :: Idle",
}

func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	read := func(name string) ([]byte, error) {
		if name == "lib.click" {
			return []byte("elementclass L { input -> output }\nrequire(library lib.click)"), nil
		}
		return nil, errors.New("no such file")
	}
	f.Fuzz(func(t *testing.T, src string) {
		g, err := Parse("fuzz.click", []byte(src), Options{ReadFile: read})
		if err != nil {
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error is not a non-empty ErrorList: %T %v", err, err)
			}
			if g != nil {
				t.Fatalf("graph and error both returned")
			}
			return
		}
		if g == nil {
			t.Fatal("nil graph without error")
		}
		for _, c := range g.Connections {
			if c.From < 0 || c.From >= len(g.Elements) || c.To < 0 || c.To >= len(g.Elements) || c.FromPort < 0 || c.ToPort < 0 {
				t.Fatalf("bad connection %+v", c)
			}
		}
	})
}
