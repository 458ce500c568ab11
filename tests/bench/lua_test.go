package bench

import (
	"testing"

	_ "flowbox/elements/luaelement"
)

// A LuaElement running a 5-line filter (drop UDP to port 53, else output
// 0), once per packet (push) and once per batch (push_batch). The goal is
// >= 2 Mpps on one core.
const luaFilterPush = `function push(port, p)
  local u = p:udp()
  if u and u:dport() == 53 then return nil end
  return 0
end`

const luaFilterBatch = `function push_batch(port, pkts, n)
  for i = 1, n do
    local u = pkts[i]:udp()
    if u and u:dport() == 53 then pkts[i]:drop() end
  end
end`

func luaPipeline(code string) func(int) string {
	return func(n int) string {
		return source(n) + ` -> LuaElement(CODE "` + code + `") -> c :: Counter -> Discard`
	}
}

func BenchmarkPipelineLuaPush(b *testing.B)  { runPipeline(b, luaPipeline(luaFilterPush), true) }
func BenchmarkPipelineLuaBatch(b *testing.B) { runPipeline(b, luaPipeline(luaFilterBatch), true) }
