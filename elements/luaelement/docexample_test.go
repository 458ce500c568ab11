package luaelement_test

import (
	"strings"
	"testing"

	"flowbox/appliance/core"
	"flowbox/appliance/runtime"
)

// TestDocExamplesConfigure builds every line of `flowbox doc LuaElement`'s
// EXAMPLE (ToDevice replaced by Discard, sources added) so the documented
// arguments really configure: the portknock example once used ARGS
// "ports=..." (the script wants knock=) and OUTPUTS 2 (it has one output).
func TestDocExamplesConfigure(t *testing.T) {
	t.Chdir("../..") // SCRIPT paths are relative to the repository root
	ex := core.Lookup("LuaElement").Doc.Example
	for _, line := range strings.Split(ex, "\n") {
		conf := strings.ReplaceAll(line, "ToDevice(eth1)", "Discard")
		if strings.HasPrefix(conf, "Queue") {
			conf = "InfiniteSource(LIMIT 1) -> " + conf
		} else {
			conf = "InfiniteSource(LIMIT 1) -> " + conf + " -> Discard"
		}
		if strings.Contains(conf, "INPUTS 2") {
			conf = strings.Replace(conf, "LuaElement(", "s :: LuaElement(", 1) + "; InfiniteSource(LIMIT 1) -> Queue -> [1]s"
			conf = strings.Replace(conf, "Queue -> s ::", "Queue -> [0]s ::", 1)
		}
		if _, err := runtime.Build(parse(t, conf), runtime.BuildOptions{Threads: 1}); err != nil {
			t.Errorf("doc example %q: %v", line, err)
		}
	}
}

// BUDGET also bounds the main chunk and init(): a slow init fails the
// configuration with the documented message, BUDGET 0 lets it finish.
func TestBudgetCoversInit(t *testing.T) {
	code := q("function init() local x = 0 for i = 1, 3e6 do x = x + i end end function push() return 0 end")
	_, err := runtime.Build(parse(t, "InfiniteSource(LIMIT 1) -> LuaElement(CODE "+code+", BUDGET 1us) -> Discard"), runtime.BuildOptions{Threads: 1})
	if err == nil || !strings.Contains(err.Error(), "time budget (1µs) exceeded") {
		t.Fatalf("err = %v", err)
	}
	if _, err := runtime.Build(parse(t, "InfiniteSource(LIMIT 1) -> LuaElement(CODE "+code+", BUDGET 0) -> Discard"), runtime.BuildOptions{Threads: 1}); err != nil {
		t.Fatal(err)
	}
}
