package lua_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"flowbox/lua"
)

func TestControlState(t *testing.T) {
	vals := map[string]string{"c.count": "42\n"}
	var writes []string
	cs := lua.NewControlState(func(h string) (string, error) {
		v, ok := vals[h]
		if !ok {
			return "", errors.New("no such handler")
		}
		return v, nil
	}, func(h, v string) error {
		writes = append(writes, h+"="+v)
		return nil
	})
	defer cs.Close()
	cases := []struct{ in, want string }{
		{"1 + 1", "2"},
		{"read('c.count') + 1", "43"},
		{"x = 5", ""},
		{"x * 2", "10"},
		{"for i = 1, 3 do print(i) end", "1\n2\n3"},
		{"'a', 'b', nil", "a\tb\tnil"},
		{"{1, 2, k = 'v'}", "{1, 2, k=v}"},
		{"write('q.reset', 1)", ""},
		{"print('x'); return 7", "x\n7"},
	}
	for _, c := range cases {
		got, err := cs.Eval(c.in)
		if err != nil || got != c.want {
			t.Errorf("Eval(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	if len(writes) != 1 || writes[0] != "q.reset=1" {
		t.Fatalf("writes: %v", writes)
	}
	if _, err := cs.Eval("read('nope.x')"); err == nil || !strings.Contains(err.Error(), "no such handler") {
		t.Fatalf("read error: %v", err)
	}
	if _, err := cs.Eval("os.execute('id')"); err == nil || !strings.Contains(err.Error(), "sandbox") {
		t.Fatalf("sandbox: %v", err)
	}
	if _, err := cs.Eval("1 +"); err == nil {
		t.Fatal("syntax error accepted")
	}
	cs.Timeout = 20 * time.Millisecond
	start := time.Now()
	_, err := cs.Eval("while true do end")
	if err == nil || !strings.Contains(err.Error(), "time budget exceeded") || time.Since(start) > time.Second {
		t.Fatalf("runaway eval: %v after %v", err, time.Since(start))
	}
	if got, err := cs.Eval("x"); err != nil || got != "5" {
		t.Fatalf("state lost after timeout: %q %v", got, err)
	}
}
