package lua_test

import (
	"strings"
	"testing"

	"flowbox/lua"
)

func TestConfigApprovalScript(t *testing.T) {
	h, err := lua.LoadHooks("../scripts/config_approval.lua", lua.HookOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	cases := []struct {
		els    []lua.ElementInfo
		ok     bool
		reason string
	}{
		{[]lua.ElementInfo{{"c", "Counter", ""}, {"e", "IPEncap", "4, 8.8.8.8, 10.1.2.3"}}, true, ""},
		{[]lua.ElementInfo{{"e", "IPEncap", "4, 10.0.0.1, 8.8.8.8"}}, false, "element e (IPEncap) sends to 8.8.8.8"},
		{[]lua.ElementInfo{{"u", "UDPIPEncap", "10.0.0.1, 1234, 192.168.7.7, 53"}}, true, ""},
		{[]lua.ElementInfo{{"u", "UDPIPEncap", "10.0.0.1, 1234, 1.1.1.1, 53"}}, false, "sends to 1.1.1.1"},
		{[]lua.ElementInfo{{"s", "Socket", "UDP, 192.168.1.1, 53"}}, true, ""},
		{[]lua.ElementInfo{{"s", "Socket", "UDP, 9.9.9.9, 53"}}, false, "element s (Socket) sends to 9.9.9.9"},
		{[]lua.ElementInfo{{"x", "Anything", "FOO 1, DST 203.0.113.9"}}, false, "sends to 203.0.113.9"},
		{[]lua.ElementInfo{{"x", "Anything", "DST 2001:db8::1"}}, true, ""},
		{[]lua.ElementInfo{{"x", "Anything", "DST 2001:4860::8888"}}, false, "2001:4860::8888"},
		{[]lua.ElementInfo{{"a", "SetIPAddress", "10.1.0.0/16"}}, true, ""},
		{[]lua.ElementInfo{{"a", "SetIPAddress", "10.0.0.0/4"}}, false, "wider than the whitelist"},
		{[]lua.ElementInfo{{"q", "Queue", "1000"}, {"p", "Print", "ok, 8.8.8.8"}}, true, ""}, // not a destination
	}
	for i, c := range cases {
		ok, reason, err := h.OnConfig(lua.ConfigRequest{Name: "t.click", Elements: c.els})
		if err != nil || ok != c.ok || !strings.Contains(reason, c.reason) {
			t.Errorf("case %d: ok=%v reason=%q err=%v; want ok=%v reason~%q", i, ok, reason, err, c.ok, c.reason)
		}
	}
}
