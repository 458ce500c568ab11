package lang

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

// elems renders a graph's elements as "name :: Class(config)".
func elems(g *Graph) []string {
	var out []string
	for _, e := range g.Elements {
		out = append(out, fmt.Sprintf("%s :: %s(%s)", e.Name, e.Class, e.Config))
	}
	return out
}

// conns renders a graph's connections as "a[0]->[0]b".
func conns(g *Graph) []string {
	var out []string
	for _, c := range g.Connections {
		out = append(out, fmt.Sprintf("%s[%d]->[%d]%s", g.Elements[c.From].Name, c.FromPort, c.ToPort, g.Elements[c.To].Name))
	}
	return out
}

func eqList(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// knownClasses is the IsClass used by most tests.
var knownClasses = map[string]bool{}

func init() {
	for _, c := range strings.Fields(`Idle Discard Counter Queue Tee Paint Print InfiniteSource
		Strip Classifier ARPResponder ARPQuerier CheckIPHeader LinearIPLookup DecIPTTL
		ICMPError EtherEncap ToDump FromDump FromDevice ToDevice IPGWOptions FixIPSrc
		IPFragmenter DropBroadcasts PaintTee GetIPAddress Unqueue RoundRobinSched
		SimpleQueue PullNull Null Script Switch`) {
		knownClasses[c] = true
	}
}

func isKnown(name string) bool { return knownClasses[name] }

type okCase struct {
	name  string
	src   string
	opts  *Options
	elems []string // nil: don't check
	conns []string // nil: don't check
}

func runOK(t *testing.T, cases []okCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := Options{IsClass: isKnown}
			if tc.opts != nil {
				opts = *tc.opts
			}
			g, err := Parse("test.click", []byte(tc.src), opts)
			if err != nil {
				t.Fatalf("Parse error:\n%v", err)
			}
			if tc.elems != nil && !eqList(elems(g), tc.elems) {
				t.Errorf("elements:\n got %q\nwant %q", elems(g), tc.elems)
			}
			if tc.conns != nil && !eqList(conns(g), tc.conns) {
				t.Errorf("connections:\n got %q\nwant %q", conns(g), tc.conns)
			}
			checkRoundTrip(t, g, opts)
		})
	}
}

// checkRoundTrip checks that Parse(Unparse(g)) gives the same elements
// and connections.
func checkRoundTrip(t *testing.T, g *Graph, opts Options) {
	t.Helper()
	text := Unparse(g)
	opts.ReadFile = nil
	g2, err := Parse("unparsed.click", []byte(text), opts)
	if err != nil {
		t.Fatalf("re-parse of Unparse output failed: %v\n%s", err, text)
	}
	if !eqList(elems(g), elems(g2)) || !eqList(conns(g), conns(g2)) {
		t.Errorf("round trip differs:\n%s\n got %q %q\nwant %q %q", text, elems(g2), conns(g2), elems(g), conns(g))
	}
}

type errCase struct {
	name string
	src  string
	opts *Options
	// want are substrings each of which must appear in some error, as
	// "line:col: message" (file name omitted).
	want []string
	// n is the exact number of errors expected (0: don't check).
	n int
}

func runErr(t *testing.T, cases []errCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := Options{IsClass: isKnown}
			if tc.opts != nil {
				opts = *tc.opts
			}
			g, err := Parse("test.click", []byte(tc.src), opts)
			if err == nil {
				t.Fatalf("no error; got %q %q", elems(g), conns(g))
			}
			if g != nil {
				t.Errorf("graph returned together with an error")
			}
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error is %T, not ErrorList", err)
			}
			var all []string
			for _, e := range list {
				all = append(all, strings.TrimPrefix(e.Pos.String(), "test.click:")+": "+e.Msg)
				if e.Snippet == "" && e.Pos.File == "test.click" {
					t.Errorf("error without snippet: %v", e)
				}
			}
			for _, w := range tc.want {
				found := false
				for _, a := range all {
					if strings.Contains(a, w) {
						found = true
					}
				}
				if !found {
					t.Errorf("missing error %q in:\n%s", w, strings.Join(all, "\n"))
				}
			}
			if tc.n > 0 && len(list) != tc.n {
				t.Errorf("got %d errors, want %d:\n%s", len(list), tc.n, strings.Join(all, "\n"))
			}
		})
	}
}

func TestDeclarations(t *testing.T) {
	runOK(t, []okCase{
		{name: "simple", src: `a :: Queue(10);`, elems: []string{"a :: Queue(10)"}},
		{name: "no parens", src: `a :: Idle; b :: Discard`, elems: []string{"a :: Idle()", "b :: Discard()"}},
		{name: "empty parens", src: `a :: Idle()`, elems: []string{"a :: Idle()"}},
		{name: "multi", src: `a, b, c :: Queue(5);`, elems: []string{"a :: Queue(5)", "b :: Queue(5)", "c :: Queue(5)"}},
		{name: "config verbatim", src: `p :: Print( "a, b" , MAXLENGTH 3)`, elems: []string{`p :: Print("a, b" , MAXLENGTH 3)`}},
		{name: "config balanced parens", src: `c :: Classifier(12/0800 (x), -)`, elems: []string{"c :: Classifier(12/0800 (x), -)"}},
		{name: "config quoted paren", src: `p :: Print(")", 'x)')`, elems: []string{`p :: Print(")", 'x)')`}},
		{name: "config comments stripped", src: "q :: Queue(10 // cap\n)\nr :: Queue(/* x) */20)", elems: []string{"q :: Queue(10)", "r :: Queue(20)"}},
		{name: "config comment in quotes kept", src: `p :: Print("// not a comment")`, elems: []string{`p :: Print("// not a comment")`}},
		{name: "config multiline", src: "c :: Classifier(12/0800,\n  -)", elems: []string{"c :: Classifier(12/0800,\n  -)"}},
		{name: "hex block", src: `s :: InfiniteSource(\<0800 (>)`, elems: []string{`s :: InfiniteSource(\<0800 (>)`}},
		{name: "anonymous numbering", src: `a :: Idle; Idle -> Counter -> b :: Discard; Idle -> b`,
			elems: []string{"a :: Idle()", "Idle@2 :: Idle()", "Counter@3 :: Counter()", "b :: Discard()", "Idle@5 :: Idle()"}},
		{name: "declaration in connection", src: `Idle -> q :: Queue(10) -> Discard`,
			elems: []string{"Idle@1 :: Idle()", "q :: Queue(10)", "Discard@3 :: Discard()"},
			conns: []string{"Idle@1[0]->[0]q", "q[0]->[0]Discard@3"}},
		{name: "unknown lowercase class with config is anonymous", src: `Idle -> foo(1) -> Discard`,
			elems: []string{"Idle@1 :: Idle()", "foo@2 :: foo(1)", "Discard@3 :: Discard()"}},
		{name: "nil IsClass capitalised", src: `Src :: Idle; Src -> Counter -> Discard`, opts: &Options{},
			elems: []string{"Src :: Idle()", "Counter@2 :: Counter()", "Discard@3 :: Discard()"}},
		{name: "identifier chars", src: `a_b@c/d :: Idle; x1/y2 :: Discard; a_b@c/d -> x1/y2`,
			conns: []string{"a_b@c/d[0]->[0]x1/y2"}},
		{name: "comment ends identifier", src: "a/b//c\n :: Idle", elems: []string{"a/b :: Idle()"}},
		{name: "block comment ends identifier", src: "a/b/*c*/ :: Idle", elems: []string{"a/b :: Idle()"}},
		{name: "case sensitive", src: `q :: Idle; Q :: Idle`, elems: []string{"q :: Idle()", "Q :: Idle()"}},
		{name: "semicolons optional", src: "a :: Idle\nb :: Discard\na -> b", conns: []string{"a[0]->[0]b"}},
		{name: "element pos", src: "\n  a :: Idle", elems: []string{"a :: Idle()"}},
	})
}

func TestElementPositions(t *testing.T) {
	g, err := Parse("p.click", []byte("a :: Idle\n  -> Counter\n\t-> Discard"), Options{IsClass: isKnown})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"p.click:1:1", "p.click:2:6", "p.click:3:5"}
	for i, e := range g.Elements {
		if e.Pos.String() != want[i] {
			t.Errorf("%s at %s, want %s", e.Name, e.Pos, want[i])
		}
	}
	if !g.Elements[1].Anonymous || g.Elements[0].Anonymous {
		t.Errorf("Anonymous flags wrong")
	}
	if string(g.Sources["p.click"]) != "a :: Idle\n  -> Counter\n\t-> Discard" {
		t.Errorf("Sources not filled: %q", g.Sources)
	}
	if g.Connections[0].Pos.Line != 2 {
		t.Errorf("connection pos %v", g.Connections[0].Pos)
	}
}

func TestConnections(t *testing.T) {
	runOK(t, []okCase{
		{name: "chain", src: `a :: Idle; b :: Counter; c :: Discard; a -> b -> c`,
			conns: []string{"a[0]->[0]b", "b[0]->[0]c"}},
		{name: "ports both sides", src: `a :: Tee; b :: Counter; c :: Discard; a [1] -> [2] b [3] -> c`,
			conns: []string{"a[1]->[2]b", "b[3]->[0]c"}},
		{name: "port with spaces", src: `a :: Tee; b :: Discard; a[ 2 ]->[ 1 ]b`, conns: []string{"a[2]->[1]b"}},
		{name: "fan in", src: `a, b :: Idle; x :: Discard; a, b -> x`, conns: []string{"a[0]->[0]x", "b[0]->[0]x"}},
		{name: "fan out", src: `x :: Tee; a, b :: Discard; x -> a, b`, conns: []string{"x[0]->[0]a", "x[0]->[0]b"}},
		{name: "fan with ports", src: `a, b :: Idle; x :: Discard; a [1], b -> [2] x`, conns: []string{"a[1]->[2]x", "b[0]->[2]x"}},
		{name: "multi-decl in connection", src: `a, b :: Idle -> x :: Discard`, conns: []string{"a[0]->[0]x", "b[0]->[0]x"}},
		{name: "repeated connection kept once", src: `a :: Idle; b :: Discard; a -> b; a -> b`, conns: []string{"a[0]->[0]b"}},
		{name: "chain across lines", src: "a :: Idle\n  -> Counter\n  -> Discard", conns: []string{"a[0]->[0]Counter@2", "Counter@2[0]->[0]Discard@3"}},
		{name: "lone reference", src: `a :: Idle; a;`, elems: []string{"a :: Idle()"}},
	})
}

func TestManyToMany(t *testing.T) {
	runOK(t, []okCase{
		{name: "port list", src: `c :: Tee; c [0,1,2] => Paint(0), Paint(1), Paint(2) -> d :: Discard`,
			conns: []string{"c[0]->[0]Paint@2", "c[1]->[0]Paint@3", "c[2]->[0]Paint@4", "Paint@2[0]->[0]d", "Paint@3[0]->[0]d", "Paint@4[0]->[0]d"}},
		{name: "range", src: `c :: Tee; c [0-2] => a, b, d :: Discard`,
			conns: []string{"c[0]->[0]a", "c[1]->[0]b", "c[2]->[0]d"}},
		{name: "single element numbered in sequence", src: `c :: Tee; c => a, b, d :: Discard`,
			conns: []string{"c[0]->[0]a", "c[1]->[0]b", "c[2]->[0]d"}},
		{name: "single element on the right", src: `a, b :: Idle; m :: RoundRobinSched; a, b => m`,
			conns: []string{"a[0]->[0]m", "b[0]->[1]m"}},
		{name: "input port list", src: `a, b :: Idle; m :: RoundRobinSched; a, b => [1,0] m`,
			conns: []string{"a[0]->[1]m", "b[0]->[0]m"}},
		{name: "mixed ranges", src: `s :: Tee; m :: RoundRobinSched; s [0, 2-3] => [3-5] m`,
			conns: []string{"s[0]->[3]m", "s[2]->[4]m", "s[3]->[5]m"}},
		{name: "expandable", src: `s :: Tee; a :: Idle; m :: RoundRobinSched; s [0,1], a => [] m`,
			conns: []string{"s[0]->[0]m", "s[1]->[1]m", "a[0]->[2]m"}},
		{name: "both single", src: `a :: Idle; b :: Discard; a => b`, conns: []string{"a[0]->[0]b"}},
		{name: "single port list with arrow", src: `a :: Tee; b :: Discard; a [1] -> [0] b`, conns: []string{"a[1]->[0]b"}},
	})
	runErr(t, []errCase{
		{name: "mismatch", src: `c :: Tee; c [0,1] => a, b, d :: Discard`, want: []string{"1:19: connection mismatch: 2 outputs connected to 3 inputs"}, n: 1},
		{name: "mismatch singular", src: `c :: Tee; c [0] => a, b :: Discard`, want: []string{"connection mismatch: 1 output connected to 2 inputs"}},
		{name: "list with arrow", src: `c :: Tee; d :: Discard; c [0,1] -> d`, want: []string{"1:27: many-to-many connections require '=>'"}, n: 1},
		{name: "range with arrow", src: `c :: Tee; d :: Discard; c -> [0-1] d`, want: []string{"many-to-many connections require '=>'"}},
		{name: "two expandable", src: `s :: Tee; m :: RoundRobinSched; s [] => [] m`, want: []string{"at most one expandable port"}},
		{name: "bad port", src: `a :: Tee; b :: Discard; a [x] -> b`, want: []string{"1:27: syntax error: bad port number 'x'"}, n: 1},
		{name: "bad range", src: `a :: Tee; b :: Discard; a [3-1] => b`, want: []string{"bad port number '3-1'"}},
		{name: "unclosed port", src: "a :: Tee; b :: Discard; a [1 -> b\n", want: []string{"missing ']'"}},
	})
}

func TestGroups(t *testing.T) {
	runOK(t, []okCase{
		{name: "group ports", src: `c :: Tee; c => ( [0] -> a :: Counter -> [0]; [1] -> b :: Counter -> [1] ) => x, y :: Discard`,
			elems: []string{"c :: Tee()", "a :: Counter()", "b :: Counter()", "x :: Discard()", "y :: Discard()"},
			conns: []string{"c[0]->[0]a", "c[1]->[0]b", "a[0]->[0]x", "b[0]->[0]y"}},
		{name: "implicit input output", src: `s :: Idle; s -> ( -> Counter -> ) -> d :: Discard`,
			conns: []string{"s[0]->[0]Counter@2", "Counter@2[0]->[0]d"}},
		{name: "explicit input output", src: `s :: Idle; s -> (input -> Counter -> output) -> d :: Discard`,
			conns: []string{"s[0]->[0]Counter@2", "Counter@2[0]->[0]d"}},
		{name: "passthrough", src: `s :: Idle; s -> (->) -> d :: Discard`, conns: []string{"s[0]->[0]d"}},
		{name: "group fan out", src: `s :: Idle; s -> ( -> a :: Counter; input -> b :: Counter; a, b -> output ) -> d :: Discard`,
			conns: []string{"s[0]->[0]a", "s[0]->[0]b", "a[0]->[0]d", "b[0]->[0]d"}},
		{name: "no new scope", src: `s :: Idle; s -> ( -> q :: Queue -> ) -> Discard; q -> Discard`,
			elems: []string{"s :: Idle()", "q :: Queue()", "Discard@3 :: Discard()", "Discard@4 :: Discard()"}},
		{name: "nested groups", src: `s :: Idle; s -> ( -> ( -> Counter -> ) -> ) -> d :: Discard`,
			conns: []string{"s[0]->[0]Counter@2", "Counter@2[0]->[0]d"}},
	})
	runErr(t, []errCase{
		{name: "unterminated group", src: `s :: Idle; s -> ( -> Counter ->`, want: []string{"1:17: unterminated element group"}},
	})
}

func TestCompounds(t *testing.T) {
	runOK(t, []okCase{
		{name: "named compound", src: `s :: Idle; c :: { input -> Counter -> output }; s -> c -> d :: Discard`,
			elems: []string{"s :: Idle()", "c/Counter@1 :: Counter()", "d :: Discard()"},
			conns: []string{"s[0]->[0]c/Counter@1", "c/Counter@1[0]->[0]d"}},
		{name: "anonymous compound", src: `s :: Idle; s -> { input -> q :: Queue -> output } -> d :: Discard`,
			elems: []string{"s :: Idle()", "@2/q :: Queue()", "d :: Discard()"},
			conns: []string{"s[0]->[0]@2/q", "@2/q[0]->[0]d"}},
		{name: "two ports", src: `a, b :: Idle; c :: { input [0] -> x :: Counter -> [1] output; input [1] -> [0] output }; a, b => c => d, e :: Discard`,
			conns: []string{"a[0]->[0]c/x", "b[0]->[0]d", "c/x[0]->[0]e"}},
		{name: "fan through input", src: `s :: Idle; c :: { input -> a :: Counter, b :: Counter -> output }; s -> c -> d :: Discard`,
			conns: []string{"s[0]->[0]c/a", "s[0]->[0]c/b", "c/a[0]->[0]d", "c/b[0]->[0]d"}},
		{name: "fan into compound", src: `a, b :: Idle; c :: { input -> Counter -> output }; a, b -> c -> d, e :: Discard`,
			conns: []string{"a[0]->[0]c/Counter@1", "b[0]->[0]c/Counter@1", "c/Counter@1[0]->[0]d", "c/Counter@1[0]->[0]e"}},
		{name: "input straight to output", src: `s :: Idle; c :: { input -> output }; s -> c -> d :: Discard`,
			conns: []string{"s[0]->[0]d"}},
		{name: "nested compounds", src: `s :: Idle; o :: { input -> i :: { input -> Counter -> output } -> output }; s -> o -> d :: Discard`,
			elems: []string{"s :: Idle()", "o/i/Counter@1 :: Counter()", "d :: Discard()"},
			conns: []string{"s[0]->[0]o/i/Counter@1", "o/i/Counter@1[0]->[0]d"}},
		{name: "implicit ends in compound", src: `s :: Idle; c :: { -> Counter -> }; s -> c -> d :: Discard`,
			conns: []string{"s[0]->[0]c/Counter@1", "c/Counter@1[0]->[0]d"}},
		{name: "source only compound", src: `c :: { Idle -> output }; c -> d :: Discard`,
			conns: []string{"c/Idle@1[0]->[0]d"}},
		{name: "compound scope separate names", src: `q :: Queue; c :: { input -> q :: Queue -> output }; Idle -> c -> q -> Discard`,
			elems: []string{"q :: Queue()", "c/q :: Queue()", "Idle@3 :: Idle()", "Discard@4 :: Discard()"}},
	})
	runErr(t, []errCase{
		{name: "input gap", src: "s, t :: Idle\nc :: { input [0] -> a :: Counter -> output; input [2] -> b :: Counter -> output }\ns, t => [0,2] c -> Discard",
			want: []string{"2:8: compound element '<anonymous>' input 1 unused"}},
		{name: "output gap", src: "elementclass Foo { input -> [1] output }\nIdle -> Foo -> Discard",
			want: []string{"compound element 'Foo' output 0 unused"}},
		{name: "input used as input", src: `elementclass Foo { input -> Counter -> input; input -> output }`,
			want: []string{"'Foo' pseudoelement 'input' may only be used as output"}},
		{name: "output used as output", src: `elementclass Foo { input -> output; output -> Discard }`,
			want: []string{"'Foo' pseudoelement 'output' may only be used as input"}},
		{name: "unterminated compound", src: "c :: { input -> Counter -> output\n", want: []string{"1:6: unterminated compound element"}},
		{name: "input port out of range", src: `c :: { input -> Counter -> output }; a, b :: Idle; a -> c; b -> [1] c; c -> Discard`,
			want: []string{"'c' input 1 out of range"}},
		{name: "reserved input name", src: `c :: { input :: Counter; }`, want: []string{"'input' is a reserved element name"}},
	})
}

func TestElementclass(t *testing.T) {
	runOK(t, []okCase{
		{name: "named class", src: "elementclass Foo { input -> Counter -> output }\nIdle -> Foo -> f :: Foo -> Discard",
			elems: []string{"Idle@1 :: Idle()", "Foo@2/Counter@1 :: Counter()", "f/Counter@1 :: Counter()", "Discard@4 :: Discard()"},
			conns: []string{"Idle@1[0]->[0]Foo@2/Counter@1", "Foo@2/Counter@1[0]->[0]f/Counter@1", "f/Counter@1[0]->[0]Discard@4"}},
		{name: "alias to primitive", src: "elementclass Q Queue;\nq :: Q(5)", elems: []string{"q :: Queue(5)"}},
		{name: "alias to compound", src: "elementclass Foo { input -> Counter -> output }\nelementclass Bar Foo;\nIdle -> b :: Bar -> Discard",
			elems: []string{"Idle@1 :: Idle()", "b/Counter@1 :: Counter()", "Discard@3 :: Discard()"}},
		{name: "non-recursive scope", src: "elementclass Queue { $cap | input -> Queue($cap) -> Counter -> output }\nIdle -> q :: Queue(7) -> Discard",
			elems: []string{"Idle@1 :: Idle()", "q/Queue@1 :: Queue(7)", "q/Counter@2 :: Counter()", "Discard@3 :: Discard()"}},
		{name: "positional formals", src: "elementclass P { $a, $b | input -> Paint($a) -> Print(\"$b\") -> output }\nIdle -> P(3, hi there) -> Discard",
			elems: []string{"Idle@1 :: Idle()", "P@2/Paint@1 :: Paint(3)", `P@2/Print@2 :: Print("hi there")`, "Discard@3 :: Discard()"}},
		{name: "keyword formals", src: "elementclass P { $a, COLOR $c, LEN $l | input -> Paint($a $c $l) -> output }\nIdle -> P(1, LEN 9) -> Discard",
			elems: []string{"Idle@1 :: Idle()", "P@2/Paint@1 :: Paint(1  9)", "Discard@3 :: Discard()"}},
		{name: "rest formal", src: "elementclass P { $a, __REST__ $r | input -> Print($a, $r) -> output }\nIdle -> P(x, y, z) -> Discard",
			elems: []string{"Idle@1 :: Idle()", "P@2/Print@1 :: Print(x, y, z)", "Discard@3 :: Discard()"}},
		{name: "quoted arg with comma", src: "elementclass P { $a | input -> Print($a) -> output }\nIdle -> P(\"a, b\") -> Discard",
			elems: []string{"Idle@1 :: Idle()", `P@2/Print@1 :: Print("a, b")`, "Discard@3 :: Discard()"}},
		{name: "overload by ports", src: `elementclass T { input -> Counter -> output || input -> t :: Tee; t[0] -> [0]output; t[1] -> [1]output }
			Idle -> a :: T -> Discard; Idle -> b :: T; b[0] -> Discard; b[1] -> Discard`,
			elems: []string{"Idle@1 :: Idle()", "a/Counter@1 :: Counter()", "Discard@3 :: Discard()", "Idle@4 :: Idle()", "b/t :: Tee()", "Discard@6 :: Discard()", "Discard@7 :: Discard()"}},
		{name: "overload by args", src: "elementclass S { $a | input -> Paint($a) -> output || $a, $b | input -> Paint($a$b) -> output }\nIdle -> S(1, 2) -> S(3) -> Discard",
			elems: []string{"Idle@1 :: Idle()", "S@2/Paint@1 :: Paint(12)", "S@3/Paint@1 :: Paint(3)", "Discard@4 :: Discard()"}},
		{name: "extend with ellipsis to primitive", src: "elementclass Queue { $a, $b | input -> Queue($a) -> Paint($b) -> output || ... }\nIdle -> Queue(5) -> Queue(5, 2) -> Discard",
			elems: []string{"Idle@1 :: Idle()", "Queue@2 :: Queue(5)", "Queue@3/Queue@1 :: Queue(5)", "Queue@3/Paint@2 :: Paint(2)", "Discard@4 :: Discard()"}},
		{name: "extend earlier compound", src: "elementclass F { $a | input -> Paint($a) -> output }\nelementclass F { $a, $b | input -> Print($a$b) -> output || ... }\nIdle -> F(1) -> F(1, 2) -> Discard",
			elems: []string{"Idle@1 :: Idle()", "F@2/Paint@1 :: Paint(1)", "F@3/Print@1 :: Print(12)", "Discard@4 :: Discard()"}},
		{name: "class scoped in compound", src: "c :: { elementclass In { input -> Counter -> output }; input -> In -> output }\nIdle -> c -> Discard",
			elems: []string{"c/In@1/Counter@1 :: Counter()", "Idle@2 :: Idle()", "Discard@3 :: Discard()"}},
		{name: "anonymous compound with config", src: "Idle -> { $a | input -> Paint($a) -> output }(4) -> Discard",
			elems: []string{"Idle@1 :: Idle()", "@2/Paint@1 :: Paint(4)", "Discard@3 :: Discard()"}},
		{name: "named compound with config", src: "c :: { $a | input -> Paint($a) -> output }(5); Idle -> c -> Discard",
			elems: []string{"c/Paint@1 :: Paint(5)", "Idle@2 :: Idle()", "Discard@3 :: Discard()"}},
		{name: "compound define", src: "elementclass F { $a | define($b x$a); input -> Paint($b) -> output }\nIdle -> F(1) -> Discard",
			elems: []string{"Idle@1 :: Idle()", "F@2/Paint@1 :: Paint(x1)", "Discard@3 :: Discard()"}},
		{name: "formals lexical scope", src: "define($x top)\nelementclass In { input -> Paint($x) -> output }\nelementclass Out { $x | input -> In -> Print($x) -> output }\nIdle -> Out(inner) -> Discard",
			elems: []string{"Idle@1 :: Idle()", "Out@2/In@1/Paint@1 :: Paint(top)", "Out@2/Print@2 :: Print(inner)", "Discard@3 :: Discard()"}},
		{name: "args substituted through nesting", src: "elementclass In { $v | input -> Paint($v) -> output }\nelementclass Out { $x | input -> In($x) -> output }\nIdle -> Out(7) -> Discard",
			elems: []string{"Idle@1 :: Idle()", "Out@2/In@1/Paint@1 :: Paint(7)", "Discard@3 :: Discard()"}},
	})
	runErr(t, []errCase{
		{name: "no match", src: "elementclass S { $a | input -> Paint($a) -> output || $a, $b | input -> Paint($a$b) -> output }\nIdle -> S(1, 2, 3) -> Discard",
			want: []string{"2:9: no match for 'S[3 arguments, 1 input, 1 output]'"}},
		{name: "wrong arg count", src: "elementclass S { $a | input -> Paint($a) -> output }\nIdle -> S -> Discard",
			want: []string{"no match for 'S[1 input, 1 output]'"}},
		{name: "formals out of order", src: "elementclass S { COLOR $c, $a | input -> output }",
			want: []string{"compound element parameters out of order"}},
		{name: "formal twice", src: "elementclass S { $a, $a | input -> output }", want: []string{"parameter '$a' multiply defined"}},
		{name: "keyword twice", src: "elementclass S { A $a, A $b | input -> output }", want: []string{"repeated keyword parameter 'A'"}},
		{name: "ellipsis anonymous", src: "c :: { input -> output || ... }", want: []string{"'...' may only be used in a named element class"}},
		{name: "missing name", src: "elementclass { input -> output }", want: []string{"expected element class name"}},
		{name: "bad formals", src: "elementclass S { $a $b | input -> output }", want: []string{"expected ',' or '|'"}},
	})
}

func TestDefine(t *testing.T) {
	runOK(t, []okCase{
		{name: "define", src: "define($N 10, $W hello world)\nq :: Queue($N); p :: Print(${W})", elems: []string{"q :: Queue(10)", "p :: Print(hello world)"}},
		{name: "define after use", src: "q :: Queue($N)\ndefine($N 3)", elems: []string{"q :: Queue(3)"}},
		{name: "define uses earlier define", src: "define($A 1, $B x$A)\nq :: Queue($B)", elems: []string{"q :: Queue(x1)"}},
		{name: "default", src: `q :: Queue(${N-42})`, elems: []string{"q :: Queue(42)"}},
		{name: "default unused", src: "define($N 1)\nq :: Queue(${N-42})", elems: []string{"q :: Queue(1)"}},
		{name: "index", src: "define($A x y z)\np :: Print(${A[1]} ${A[0]} [${A[7]}])", elems: []string{"p :: Print(y x [])"}},
		{name: "single quotes", src: "define($N 1)\np :: Print('$N' \"$N\" $N)", elems: []string{`p :: Print('$N' "1" 1)`}},
		{name: "command line overrides", src: "define($X 5)\nq :: Queue($X)", opts: &Options{Defines: map[string]string{"X": "7"}},
			elems: []string{"q :: Queue(7)"}},
		{name: "command line only", src: "q :: Queue($Y)", opts: &Options{Defines: map[string]string{"Y": "8"}},
			elems: []string{"q :: Queue(8)"}},
		{name: "define uses command line", src: "define($X $Y-1)\nq :: Queue($X)", opts: &Options{Defines: map[string]string{"Y": "8"}},
			elems: []string{"q :: Queue(8-1)"}},
		{name: "dollar not a variable", src: `s :: Script(print $(add 1 2), print $)`, elems: []string{"s :: Script(print $(add 1 2), print $)"}},
		{name: "keep undefined", src: `s :: Script(set x 1, print $x)`, opts: &Options{KeepUndefined: true},
			elems: []string{"s :: Script(set x 1, print $x)"}},
		{name: "define in compound is local", src: "define($v top)\nc :: { define($v in); input -> Paint($v) -> output }\nIdle -> c -> Print($v)",
			elems: []string{"c/Paint@1 :: Paint(in)", "Idle@2 :: Idle()", "Print@3 :: Print(top)"}},
	})
	runErr(t, []errCase{
		{name: "redefinition", src: "define($A 1)\ndefine($A 2)", want: []string{"2:8: parameter '$A' multiply defined"}, n: 1},
		{name: "undefined", src: "q :: Queue($NOPE)\nr :: Queue(1,\n ${ALSO})", want: []string{"1:12: undefined variable '$NOPE'", "3:2: undefined variable '$ALSO'"}, n: 2},
		{name: "bad define", src: "define(X 1)", want: []string{"bad define"}},
		{name: "undefined in compound body", src: "elementclass F { input -> Paint($zz) -> output }\nIdle -> F -> F -> Discard", want: []string{"1:33: undefined variable '$zz'"}, n: 1},
	})
}

func TestRequire(t *testing.T) {
	files := map[string]string{
		"dir/lib.click":       "elementclass Lib { input -> Counter -> output }\nrequire(library sub/inner.click)\n",
		"dir/sub/inner.click": "elementclass Inner { input -> Paint(1) -> output }\n",
		"dir/bad.click":       "x :: ;\n",
	}
	read := func(name string) ([]byte, error) {
		if s, ok := files[name]; ok {
			return []byte(s), nil
		}
		return nil, os.ErrNotExist
	}
	t.Run("entries", func(t *testing.T) {
		g, err := Parse("test.click", []byte("require(package foo, compact_config)\nrequire(provide_x)"), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !eqList(g.Requirements, []string{"package foo", "compact_config", "provide_x"}) {
			t.Errorf("requirements %q", g.Requirements)
		}
	})
	t.Run("library", func(t *testing.T) {
		src := "require(library lib.click)\nrequire(library \"lib.click\")\nIdle -> Lib -> Inner -> Discard"
		g, err := Parse("dir/main.click", []byte(src), Options{IsClass: isKnown, ReadFile: read})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"Idle@1 :: Idle()", "Lib@2/Counter@1 :: Counter()", "Inner@3/Paint@1 :: Paint(1)", "Discard@4 :: Discard()"}
		if !eqList(elems(g), want) {
			t.Errorf("got %q want %q", elems(g), want)
		}
		for _, f := range []string{"dir/main.click", "dir/lib.click", "dir/sub/inner.click"} {
			if g.Sources[f] == nil {
				t.Errorf("Sources lacks %s", f)
			}
		}
		if !eqList(g.Requirements, []string{"library lib.click", "library sub/inner.click", `library "lib.click"`}) {
			t.Errorf("requirements %q", g.Requirements)
		}
	})
	t.Run("provide ignored", func(t *testing.T) {
		if _, err := Parse("t", []byte("provide(x)"), Options{}); err != nil {
			t.Fatal(err)
		}
	})
	runErr(t, []errCase{
		{name: "library not allowed", src: "require(library x.click)", want: []string{"1:1: require(library x.click): file inclusion not allowed"}},
		{name: "library missing", src: "require(library nope.click)", opts: &Options{ReadFile: read}, want: []string{"require(library nope.click)"}},
		{name: "library in compound", src: "c :: { require(library lib.click); input -> output }", opts: &Options{ReadFile: read}, want: []string{"may only be used at file scope"}},
		{name: "require without parens", src: "require foo", want: []string{"1:1: syntax error: expected '(' after 'require'"}},
	})
	t.Run("library errors located in library", func(t *testing.T) {
		_, err := Parse("dir/main.click", []byte("require(library bad.click)"), Options{ReadFile: read})
		if err == nil || !strings.Contains(err.Error(), "dir/bad.click:1:6: syntax error") {
			t.Fatalf("got %v", err)
		}
	})
}

func TestLineDirectives(t *testing.T) {
	src := "a :: Idle\n# 100 \"orig.click\"\nb :: Idle\n#line 7 \"x.click\"\n  c :: Idle\n"
	g, err := Parse("t.click", []byte(src), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"t.click:1:1", "orig.click:100:1", "x.click:7:3"}
	for i, e := range g.Elements {
		if e.Pos.String() != want[i] {
			t.Errorf("%s at %s, want %s", e.Name, e.Pos, want[i])
		}
	}
	_, err = Parse("t.click", []byte("# 50 \"o.click\"\n  -> x"), Options{})
	var list ErrorList
	if !errors.As(err, &list) || list[0].Pos.String() != "o.click:50:3" || !strings.Contains(list[0].Snippet, "-> x") {
		t.Fatalf("directive error: %#v", err)
	}
	runErr(t, []errCase{
		{name: "bad directive", src: "# foo\na :: Idle", want: []string{"1:1: unknown preprocessor directive"}},
	})
}

func TestComments(t *testing.T) {
	runOK(t, []okCase{
		{name: "everywhere", src: "/* head */ a /* x */ :: // c\n Idle /* y */ -> /* z */ [0] // w\n b :: Discard",
			conns: []string{"a[0]->[0]b"}},
		{name: "in formals", src: "elementclass F { /* c */ $a /* d */ | input -> Paint($a) -> output }\nIdle -> F(2) -> Discard",
			elems: []string{"Idle@1 :: Idle()", "F@2/Paint@1 :: Paint(2)", "Discard@3 :: Discard()"}},
	})
	runErr(t, []errCase{
		{name: "unterminated comment", src: "a :: Idle /* never", want: []string{"1:11: unterminated comment"}},
	})
}

func TestErrors(t *testing.T) {
	runErr(t, []errCase{
		{name: "undeclared", src: "a :: Idle\na -> x -> Discard", want: []string{"2:6: undeclared element 'x'"}, n: 1},
		{name: "redeclaration", src: "a :: Idle\na :: Discard", want: []string{"2:1: redeclaration of element 'a'", "1:1: 'a' previously declared here"}, n: 2},
		{name: "class as element name", src: "Queue :: Counter", want: []string{"1:1: class 'Queue' used as element name"}},
		{name: "elementclass as element name", src: "elementclass F { input -> output }\nF :: Idle", want: []string{"2:1: class 'F' used as element name"}},
		{name: "top level arrow", src: "->Null;", want: []string{"1:1: syntax error near '->'"}},
		{name: "trailing arrow top level", src: "a :: Idle; a ->", want: []string{"syntax error near '->'"}},
		{name: "missing class", src: "a :: ;", want: []string{"1:6: syntax error near ';': expected element class after '::'"}},
		{name: "unterminated config", src: "a :: Queue(10\nb :: Idle", want: []string{"1:11: unterminated configuration string"}},
		{name: "bad identifier", src: "1/x :: Idle", want: []string{"bad element name '1/x'"}},
		{name: "digits identifier", src: "a :: Idle; a -> 12 -> Discard", want: []string{"bad element name '12'"}},
		{name: "stray brace", src: "a :: Idle }", want: []string{"1:11: syntax error near '}'"}},
		{name: "stray char", src: "a :: Idle; % a", want: []string{"1:12: syntax error near '%'"}},
		{name: "keyword as element", src: "define -> a", want: []string{"expected '(' after 'define'"}},
		{name: "trailing output port", src: "a :: Tee; a [1];", want: []string{"output port specification with no connection"}},
		{name: "stray variable", src: "a :: Idle; $x -> a", want: []string{"syntax error near '$x'"}},
		{name: "double comma", src: "a, b :: Idle; x :: Discard; a, , b -> x", want: []string{"syntax error near ','"}},
		{name: "class named like element", src: "a :: Idle\nelementclass a { input -> output }", want: []string{"2:14: element class 'a' has the same name as an element"}},
		{name: "bad variable index", src: "define($A x)\nq :: Queue(${A[z]})", want: []string{"2:12: bad variable index in '${A[z]}'"}},
		{name: "port number too large", src: "a :: Tee; b :: Discard; a [70000] -> b", want: []string{"port number too large in '70000'"}},
		{name: "too many connections", src: "a :: Tee; b :: Discard; a [0-65535] => [0-65535] b; a [0-65535] => [0-65535] b; a [0-65535] => [0-65535] b; a [0-65535] => [0-65535] b; a [0-65535] => [0-65535] b",
			want: []string{"too many connections"}, n: 1},
		{name: "expansion too large", src: "elementclass A { Idle Idle Idle Idle Idle Idle Idle Idle }\nelementclass B { A A A A A A A A }\nelementclass C { B B B B B B B B }\nelementclass D { C C C C C C C C }\nelementclass E { D D D D D D D D }\nelementclass F { E E E E E E E E }\nF",
			want: []string{"configuration too large"}, n: 1},
		{name: "ellipsis not last", src: "elementclass F { input -> output || ... || input -> output }", want: []string{"expected '}' after '...'"}},
		{name: "output out of range", src: "c :: { input -> Counter -> output }; Idle -> c; c [1] -> Discard", want: []string{"'c' output 1 out of range (compound has 1 output)"}},
		{name: "unterminated line directive file", src: "# 3 \"x\na :: Idle", want: []string{"1:1: unterminated file name in line directive"}},
		{name: "syntax error in compound does not cascade", src: "c :: { input -> -> output }; Idle -> c -> Discard\nx :: Queue(\n  $U)",
			want: []string{"1:17: syntax error near '->'", "3:3: undefined variable '$U'"}, n: 2},
		{name: "expansion errors with parse errors", src: "elementclass F { $a | input -> Paint($a) -> output }\nIdle -> F(1,2) -> F -> Discard;\n a -> b",
			want: []string{"2:9: no match for 'F[2 arguments, 1 input, 1 output]'", "2:19: no match for 'F[1 input, 1 output]'", "3:2: undeclared element 'a'", "3:7: undeclared element 'b'"}, n: 4},
		{name: "many errors", src: "a :: Idle\na -> nope1\nb :: Queue(1\n",
			want: []string{"2:6: undeclared element 'nope1'", "3:11: unterminated configuration string"}},
		{name: "keeps going after syntax errors", src: "a :: ;\nb :: Idle -> -> c\nx -> y\nq :: Queue(${X[z]})\nz :: Idle; z :: Idle",
			want: []string{"1:6: syntax error near ';'", "2:14: syntax error near '->'", "3:1: undeclared element 'x'", "3:6: undeclared element 'y'", "5:12: redeclaration of element 'z'"}},
	})
}

// A mistyped element or class name gets a "did you mean" hint; a
// dangling arrow says what was expected.
func TestErrorHints(t *testing.T) {
	classes := &Options{IsClass: isKnown, ClassNames: func() []string { return []string{"Counter", "Discard", "Idle"} }}
	runErr(t, []errCase{
		{name: "mistyped class", src: "Idle -> Countr -> Discard", opts: classes,
			want: []string{"1:9: undeclared element 'Countr' (did you mean 'Counter'?)"}, n: 1},
		{name: "class in lower case", src: "Idle -> counter -> Discard", opts: classes,
			want: []string{"undeclared element 'counter' (did you mean 'Counter'?)"}},
		{name: "mistyped element", src: "src :: Idle; src -> Discard; sr -> Discard",
			want: []string{"1:30: undeclared element 'sr' (did you mean 'src'?)"}},
		{name: "mistyped compound class", src: "elementclass Pipe { input -> output }\nIdle -> Pip -> Discard",
			want: []string{"2:9: undeclared element 'Pip' (did you mean 'Pipe'?)"}},
		{name: "no far-fetched hint", src: "a :: Idle; x -> a", want: []string{"1:12: undeclared element 'x'"}},
		{name: "trailing arrow", src: "a :: Idle; a ->", want: []string{"1:14: syntax error near '->': expected an element after '->'"}},
		{name: "double arrow", src: "a :: Idle; a -> -> Discard", want: []string{"1:17: syntax error near '->': expected an element after '->'"}},
		{name: "leading arrow", src: "-> Discard", want: []string{"1:1: syntax error near '->': expected an element before '->'"}},
	})
	_, err := Parse("t.click", []byte("a :: Idle; x -> a"), Options{IsClass: isKnown})
	if err == nil || strings.Contains(err.Error(), "did you mean") {
		t.Errorf("hint for a one-letter name: %v", err)
	}
}

func TestErrorFormat(t *testing.T) {
	_, err := Parse("f.click", []byte("a :: Idle\n\ta -> nope"), Options{})
	if err == nil {
		t.Fatal("no error")
	}
	want := "f.click:2:7: undeclared element 'nope'\n    \ta -> nope\n    \t     ^"
	if err.Error() != want {
		t.Errorf("got\n%s\nwant\n%s", err, want)
	}
}

// fakeIPRouter is a two-interface IP router in the style of Click's
// conf/fake-iprouter.click, reading and writing dump files.
const fakeIPRouter = `// fake-iprouter.click -- two-interface router over dump files
define($IF0 10.0.0.1, $IF1 10.0.1.1)
define($ETH0 00:00:c0:ae:67:ef, $ETH1 00:00:c0:4f:71:ef)

elementclass Input { $n |
    input -> Paint($n) -> Strip(14) -> output
}

c0 :: Classifier(12/0806 20/0001, 12/0806 20/0002, 12/0800, -);
c1 :: Classifier(12/0806 20/0001, 12/0806 20/0002, 12/0800, -);

FromDump(in0.pcap, STOP true) -> c0;
FromDump(in1.pcap, STOP true) -> c1;

out0 :: Queue(200) -> Unqueue -> ToDump(out0.pcap);
out1 :: Queue(200) -> Unqueue -> ToDump(out1.pcap);
tol :: Discard;

// ARP queries and responses
arpq0 :: ARPQuerier($IF0, $ETH0);
arpq1 :: ARPQuerier($IF1, $ETH1);
c0 [0] -> ARPResponder($IF0 $ETH0) -> out0;
c1 [0] -> ARPResponder($IF1 $ETH1) -> out1;
c0 [1] -> [1] arpq0;
c1 [1] -> [1] arpq1;
arpq0 -> out0;
arpq1 -> out1;

// IP
rt :: LinearIPLookup($IF0/32 0, $IF1/32 0, 10.0.0.0/24 1, 10.0.1.0/24 2);
ip :: Strip(14) -> CheckIPHeader(INTERFACES 10.0.0.1/24 10.0.1.1/24) -> [0] rt;
c0 [2] -> Paint(1) -> ip;
c1 [2] -> Paint(2) -> ip;

rt [0] -> EtherEncap(0x0800, 1:1:1:1:1:1, 2:2:2:2:2:2) -> tol;

// forwarding path for each interface
rt [1] -> DropBroadcasts -> cp0 :: PaintTee(1) -> gio0 :: IPGWOptions($IF0)
  -> FixIPSrc($IF0) -> dt0 :: DecIPTTL -> fr0 :: IPFragmenter(1500) -> [0] arpq0;
rt [2] -> DropBroadcasts -> cp1 :: PaintTee(2) -> gio1 :: IPGWOptions($IF1)
  -> FixIPSrc($IF1) -> dt1 :: DecIPTTL -> fr1 :: IPFragmenter(1500) -> [0] arpq1;

// ICMP errors
dt0 [1] -> ICMPError($IF0, timeexceeded) -> rt;
dt1 [1] -> ICMPError($IF1, timeexceeded) -> rt;
fr0 [1] -> ICMPError($IF0, unreachable, needfrag) -> rt;
fr1 [1] -> ICMPError($IF1, unreachable, needfrag) -> rt;
gio0 [1] -> ICMPError($IF0, parameterproblem) -> rt;
gio1 [1] -> ICMPError($IF1, parameterproblem) -> rt;
cp0 [1] -> ICMPError($IF0, redirect, host) -> rt;
cp1 [1] -> ICMPError($IF1, redirect, host) -> rt;

c0 [3] -> Print(c0 other) -> Discard;
c1 [3] -> Print(c1 other) -> Discard;
`

func TestFakeIPRouter(t *testing.T) {
	opts := Options{IsClass: isKnown}
	g, err := Parse("fake-iprouter.click", []byte(fakeIPRouter), opts)
	if err != nil {
		t.Fatal(err)
	}
	// Counted by hand: 2 classifiers, 2 FromDump, 2x(Queue, Unqueue,
	// ToDump), tol, 2 ARPQuerier, 2 ARPResponder, rt, Strip,
	// CheckIPHeader, 2 Paint, EtherEncap, 2x(DropBroadcasts, PaintTee,
	// IPGWOptions, FixIPSrc, DecIPTTL, IPFragmenter), 8 ICMPError,
	// 2 Print, 2 Discard. The Input class is never used.
	if n := len(g.Elements); n != 45 {
		t.Errorf("got %d elements, want 45:\n%s", n, strings.Join(elems(g), "\n"))
	}
	if n := len(g.Connections); n != 56 {
		t.Errorf("got %d connections, want 56:\n%s", n, strings.Join(conns(g), "\n"))
	}
	byName := map[string]*Element{}
	for _, e := range g.Elements {
		byName[e.Name] = e
	}
	if e := byName["arpq0"]; e == nil || e.Config != "10.0.0.1, 00:00:c0:ae:67:ef" {
		t.Errorf("arpq0 = %+v", e)
	}
	if e := byName["rt"]; e == nil || e.Config != "10.0.0.1/32 0, 10.0.1.1/32 0, 10.0.0.0/24 1, 10.0.1.0/24 2" {
		t.Errorf("rt = %+v", e)
	}
	found := false
	for _, c := range conns(g) {
		if c == "c0[1]->[1]arpq0" {
			found = true
		}
	}
	if !found {
		t.Errorf("c0[1]->[1]arpq0 missing")
	}
	checkRoundTrip(t, g, opts)
}

func TestRoundTrip(t *testing.T) {
	srcs := []string{
		fakeIPRouter,
		"elementclass F { $a | input -> Paint($a) -> output }\nIdle -> F(1) -> { input -> Counter -> output } -> Discard",
		"c :: Tee; c [0-2] => (->), Paint(1), Counter => [0-2] m :: RoundRobinSched -> Discard",
		"p :: Print(\"a ) b\", 'c ( d'); Idle -> p -> Discard; require(compact_config)",
	}
	for i, src := range srcs {
		g, err := Parse("rt.click", []byte(src), Options{IsClass: isKnown})
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		checkRoundTrip(t, g, Options{IsClass: isKnown})
	}
}

func TestSplitArgs(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"  ", nil},
		{"a", []string{"a"}},
		{"a, b ,c", []string{"a", "b", "c"}},
		{"1, ", []string{"1"}},
		{",", []string{""}},
		{`"a, b", 'c,d', e`, []string{`"a, b"`, `'c,d'`, "e"}},
		{"a /* , */ b, c // ,\n", []string{"a   b", "c"}},
		{`\<00,11>, x`, []string{`\<00,11>`, "x"}},
	}
	for _, c := range cases {
		if got := splitArgs(c.in); !eqList(got, c.want) {
			t.Errorf("splitArgs(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestValidIdent(t *testing.T) {
	for s, want := range map[string]bool{"a": true, "a/b": true, "a1/b2": true, "@a": true, "_": true,
		"1": false, "a/1": false, "/a": false, "a/": false, "a//b": false, "": false} {
		if validIdent(s) != want {
			t.Errorf("validIdent(%q) = %v", s, !want)
		}
	}
}

func BenchmarkParse10k(b *testing.B) {
	src := bigConfig(10000)
	b.SetBytes(int64(len(src)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		g, err := Parse("big.click", src, Options{IsClass: isKnown})
		if err != nil || len(g.Elements) != 10000 {
			b.Fatalf("err %v", err)
		}
	}
}

// bigConfig builds n elements: chains of 10 through a compound class.
func bigConfig(n int) []byte {
	var b strings.Builder
	b.WriteString("define($CAP 100)\nelementclass Stage { $p | input -> Paint($p) -> Counter -> output }\n")
	for i := 0; i < n/10; i++ {
		fmt.Fprintf(&b, "s%d :: Idle -> q%d :: Queue($CAP) -> Stage(%d) -> Stage(%d) -> Strip(14) -> Counter -> Print(\"x%d\") -> d%d :: Discard;\n", i, i, i, i+1, i, i)
	}
	return []byte(b.String())
}

func TestLargeConfigFast(t *testing.T) {
	src := bigConfig(10000)
	g, err := Parse("big.click", src, Options{IsClass: isKnown})
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Elements) != 10000 || len(g.Connections) != 9000 {
		t.Fatalf("got %d elements, %d connections", len(g.Elements), len(g.Connections))
	}
}
