package standard

import (
	"strings"
	"testing"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
	"flowbox/elements/elemtest"
)

func TestCounter(t *testing.T) {
	hasDoc(t, "Counter")
	tests := []struct {
		name       string
		config     string
		batches    []int // packets per batch, each 100 bytes
		wantWrites []string
	}{
		{"plain", "", []int{3, 64, 1}, nil},
		{"count call fires once at N", "COUNT_CALL 5 s.stop now", []int{3, 3, 3}, []string{"s.stop now"}},
		{"count call at first packet", "COUNT_CALL 1 x.y", []int{2}, []string{"x.y "}},
		{"count call never reached", "COUNT_CALL 50 x.y", []int{3, 3}, nil},
		{"byte count call", "BYTE_COUNT_CALL 250 x.y 1", []int{2, 1, 5}, []string{"x.y 1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := elemtest.New(t, "Counter", tc.config, 1, 1)
			total := 0
			for _, n := range tc.batches {
				h.Push(0, numbered(n, 100)...)
				total += n
			}
			if got := len(h.Outs[0].Pkts); got != total {
				t.Fatalf("passed %d packets, want %d", got, total)
			}
			if h.Read("count") != itoa(total) || h.Read("byte_count") != itoa(100*total) {
				t.Errorf("count %s bytes %s, want %d and %d", h.Read("count"), h.Read("byte_count"), total, 100*total)
			}
			if len(h.Router.Writes) != len(tc.wantWrites) {
				t.Fatalf("calls %q, want %q", h.Router.Writes, tc.wantWrites)
			}
			for i := range tc.wantWrites {
				if h.Router.Writes[i] != tc.wantWrites[i] {
					t.Errorf("call %q, want %q", h.Router.Writes[i], tc.wantWrites[i])
				}
			}
		})
	}
	mustFail(t, "Counter", "COUNT_CALL x", 1, 1, "COUNT_CALL")
}

// TestCounterCallBeforeEmit checks COUNT_CALL runs before the batch with
// the N-th packet reaches the next element.
func TestCounterCallBeforeEmit(t *testing.T) {
	h2 := elemtest.New(t, "Counter", "COUNT_CALL 3 a.b", 1, 1)
	seen := -1
	h2.Elem.Core().Output(0).Connect(pushFunc(func(b *packet.Batch) {
		if seen < 0 {
			seen = -2 // first batch: record whether the call was already made
		}
		if len(h2.Router.Writes) == 1 && seen == -2 {
			seen = b.N
		}
		b.Reset()
	}), 0)
	h2.Push(0, numbered(4, 10)...)
	if seen != 4 || len(h2.Router.Writes) != 1 {
		t.Errorf("call not made before the batch was pushed on (seen %d)", seen)
	}
}

func TestCounterRate(t *testing.T) {
	h := elemtest.New(t, "Counter", "", 1, 1)
	h.Outs[0].Discard = true
	const tick = int64(100e6)
	now := int64(1e12)
	// 10 packets of 100 bytes every 10 ms: 1000 packets/s, 800 kbit/s.
	for i := 0; i < 50; i++ {
		h.Ctx.Now = now + int64(i)*tick/10
		h.Push(0, numbered(10, 100)...)
	}
	if h.Read("rate") != "1000" || h.Read("byte_rate") != "100000" || h.Read("bit_rate") != "800000" {
		t.Errorf("rate %s byte_rate %s bit_rate %s", h.Read("rate"), h.Read("byte_rate"), h.Read("bit_rate"))
	}
	_ = h.Write("reset", "")
	if h.Read("count") != "0" || h.Read("rate") != "0" {
		t.Error("reset left counts")
	}
}

func TestCounterZeroAllocs(t *testing.T) {
	h := elemtest.New(t, "Counter", "", 1, 1)
	h.Outs[0].Discard = true
	var b packet.Batch
	push := core.AsPusher(h.Elem) // the runtime builds its adapter once too
	allocs := testing.AllocsPerRun(100, func() {
		for i := 0; i < 32; i++ {
			b.Append(h.Ctx.Pool.New(64))
		}
		push.Push(h.Ctx, 0, &b)
	})
	if allocs != 0 {
		t.Errorf("%.1f allocs per batch", allocs)
	}
}

type pushFunc func(b *packet.Batch)

func (f pushFunc) Push(_ *core.Ctx, _ int, b *packet.Batch) { f(b) }

func BenchmarkCounter(b *testing.B) {
	h := elemtest.New(b, "Counter", "", 1, 1)
	var batch packet.Batch
	for i := 0; i < 32; i++ {
		batch.Append(h.Ctx.Pool.New(64))
	}
	c := h.Elem.(*Counter)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.Process(h.Ctx, &batch)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/32, "ns/pkt")
}

// A COUNT_CALL or BYTE_COUNT_CALL naming a missing or read-only handler is
// a configuration error at initialization (Click's HandlerCall), not a
// silent failure when the count is reached; so is writing one to count_call.
func TestCounterCallHandlerChecked(t *testing.T) {
	for _, tc := range []struct{ conf, msg string }{
		{"InfiniteSource -> c :: Counter(COUNT_CALL 3 nosuch.reset) -> Discard", "COUNT_CALL: No element named 'nosuch'"},
		{"InfiniteSource -> c :: Counter(BYTE_COUNT_CALL 3 c.nosuch) -> Discard", "BYTE_COUNT_CALL: No handler named 'c.nosuch'"},
		{"InfiniteSource -> c :: Counter(COUNT_CALL 3 c.count) -> Discard", "not writable"},
		{"InfiniteSource -> c :: Counter(COUNT_CALL 3 nostop) -> Discard", "No handler named 'nostop'"},
	} {
		_, err := buildRouter(t, tc.conf)
		if err == nil || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), "test.click:1:") {
			t.Errorf("%s: error %v, want test.click:1:... %q", tc.conf, err, tc.msg)
		}
	}
	for _, conf := range []string{
		"InfiniteSource -> c :: Counter(COUNT_CALL 3 c.reset) -> Discard",
		"InfiniteSource -> c :: Counter(COUNT_CALL 3 stop) -> Discard",
		"elementclass X { input -> c :: Counter(COUNT_CALL 2 c.reset) -> output }; InfiniteSource -> x :: X -> Discard",
	} {
		if _, err := buildRouter(t, conf); err != nil {
			t.Errorf("%s: %v", conf, err)
		}
	}
	r, err := buildRouter(t, "InfiniteSource -> c :: Counter -> Discard")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Write("c.count_call", "5 nosuch.reset"); err == nil {
		t.Error("writing count_call with a missing handler succeeded")
	}
	if err := r.Write("c.count_call", "5 c.reset"); err != nil {
		t.Errorf("writing count_call: %v", err)
	}
}
