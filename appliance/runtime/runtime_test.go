package runtime

import (
	"context"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"flowbox/appliance/core"
	"flowbox/appliance/lang"
	"flowbox/appliance/packet"
)

// Test-only element classes, registered under names no real element uses.

// tSource emits LIMIT packets (one byte: a sequence number) in batches.
type tSource struct {
	core.Base
	limit, sent int
	stop        bool
}

func (s *tSource) Configure(a *core.Args) error {
	if err := a.Parse(core.Pos("LIMIT", core.Int(&s.limit)), core.Key("STOP", core.Bool(&s.stop))); err != nil {
		return err
	}
	s.ScheduleTask()
	if s.stop {
		s.SetStopper()
	}
	return nil
}

func (s *tSource) RunTask(ctx *core.Ctx) bool {
	if s.sent >= s.limit {
		return false
	}
	var b packet.Batch
	for s.sent < s.limit && !b.Full() {
		p := ctx.Pool.New(1)
		p.Data()[0] = byte(s.sent)
		b.Append(p)
		s.sent++
	}
	s.Output(0).Push(ctx, &b)
	if s.sent >= s.limit && s.stop {
		s.Router().StopperDone(s)
	}
	return true
}

// tSink counts what it receives, checking order.
type tSink struct {
	core.Base
	count   atomic.Int64
	inOrder atomic.Bool
	next    byte
}

func (s *tSink) Initialize(core.Router) error { s.inOrder.Store(true); return nil }

func (s *tSink) Push(ctx *core.Ctx, _ int, b *packet.Batch) {
	for _, p := range b.Packets() {
		if p.Data()[0] != s.next {
			s.inOrder.Store(false)
		}
		s.next++
	}
	s.count.Add(int64(b.N))
	ctx.Pool.FreeBatch(b)
}

func (s *tSink) Handlers() []core.Handler {
	return []core.Handler{core.ReadOnly("count", func() string { return itoa(int(s.count.Load())) })}
}

// tPass is a 1/1 agnostic processor.
type tPass struct {
	core.Base
	seen int
}

func (t *tPass) Process(_ *core.Ctx, b *packet.Batch) { t.seen += b.N }

func (t *tPass) Handlers() []core.Handler {
	return []core.Handler{
		core.ReadWrite("seen", func() string { return itoa(t.seen) }, func(v string) error { t.seen = 0; return nil }),
	}
}

// tQueue is a minimal unbounded single-thread-safe queue (h/l).
type tQueue struct {
	core.Base
	ch chan *packet.Packet
}

func (q *tQueue) Initialize(core.Router) error { q.ch = make(chan *packet.Packet, 100000); return nil }
func (q *tQueue) Push(ctx *core.Ctx, _ int, b *packet.Batch) {
	for _, p := range b.Packets() {
		select {
		case q.ch <- p:
		default:
			ctx.Pool.Free(p) // full: tail drop (sources pause first, see NonFull)
		}
	}
}

// NonFull makes upstream sources pause before the queue can overflow.
func (q *tQueue) NonFull() bool { return len(q.ch) < cap(q.ch)-packet.MaxBatch }
func (q *tQueue) Pull(_ *core.Ctx, _ int, b *packet.Batch, max int) {
	for i := 0; i < max; i++ {
		select {
		case p := <-q.ch:
			b.Append(p)
		default:
			return
		}
	}
}

// tUnqueue pulls and pushes (l/h task).
type tUnqueue struct{ core.Base }

func (u *tUnqueue) Initialize(core.Router) error { u.ScheduleTask(); return nil }
func (u *tUnqueue) RunTask(ctx *core.Ctx) bool {
	var b packet.Batch
	if u.Input(0).Pull(ctx, &b, 32) == 0 {
		return false
	}
	u.Output(0).Push(ctx, &b)
	return true
}

func itoa(n int) string { return strconv.Itoa(n) }

func init() {
	core.Register(core.Class{Name: "TSource", Ports: "0/1", Processing: "h/h", New: func() core.Element { return new(tSource) }})
	core.Register(core.Class{Name: "TSink", Ports: "1/0", Processing: "h/h", New: func() core.Element { return new(tSink) }})
	core.Register(core.Class{Name: "TPass", Ports: "1/1", Processing: "a/a", New: func() core.Element { return new(tPass) }})
	core.Register(core.Class{Name: "TQueue", Ports: "1/1", Processing: "h/l", New: func() core.Element { return new(tQueue) }})
	core.Register(core.Class{Name: "TUnqueue", Ports: "1/1", Processing: "l/h", New: func() core.Element { return new(tUnqueue) }})
	core.Register(core.Class{Name: "TTwoOut", Ports: "1/1-2", Processing: "a/ah", New: func() core.Element { return new(tPass) }})
}

func parse(t *testing.T, conf string) *lang.Graph {
	t.Helper()
	g, err := lang.Parse("test.click", []byte(conf), lang.Options{IsClass: func(n string) bool { return core.Lookup(n) != nil }})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return g
}

func build(t *testing.T, conf string, threads int) (*Router, error) {
	t.Helper()
	return Build(parse(t, conf), BuildOptions{Threads: threads, Log: func(string) {}})
}

func TestBuildErrors(t *testing.T) {
	cases := []struct {
		name, conf string
		want       []string // every one must appear
	}{
		{"direct push/pull conflict", "s :: TSource(1); q1 :: TQueue; q2 :: TQueue; s -> q1 -> q2 -> TUnqueue -> TSink",
			[]string{"test.click:1:", "'q1 :: TQueue' pull output 0 connected to 'q2 :: TQueue' push input 0"}},
		{"mixed agnostic context", "s :: TSource(1) -> p :: TPass -> u :: TUnqueue -> TSink",
			[]string{"agnostic 'p :: TPass' in mixed context: pull output 0, push input 0"}},
		{"illegal reuse of push output", "s :: TSource(1); s -> a :: TSink; s -> b :: TSink",
			[]string{"illegal reuse of 's :: TSource' push output 0"}},
		{"unused output", "s :: TSource(1); p :: TPass; s -> p",
			[]string{"'p :: TPass' output 0 unused"}},
		{"unused input", "k :: TSink",
			[]string{"'k :: TSink' input 0 unused"}},
		{"no such output port", "s :: TSource(1); s [1] -> TSink",
			[]string{"'s :: TSource' has no output 1"}},
		{"configure error names the element and argument", "s :: TSource(LIMIT many) -> TSink",
			[]string{"test.click:1:1:", "'s :: TSource': LIMIT: expected integer"}},
		{"all errors in one run", "a :: TSource(x) -> TSink;\nb :: TSource(y) -> TSink;",
			[]string{"test.click:1:", "test.click:2:"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := build(t, tc.conf, 1)
			if err == nil {
				t.Fatalf("no error for %q", tc.conf)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
			if _, ok := err.(lang.ErrorList); !ok {
				t.Errorf("error is %T, want lang.ErrorList", err)
			}
		})
	}
}

func TestUnknownClassSuggestsNearest(t *testing.T) {
	g := &lang.Graph{Elements: []*lang.Element{{Name: "x", Class: "TSourc", Pos: lang.Pos{File: "f", Line: 1, Col: 1}}}}
	_, err := Build(g, BuildOptions{})
	if err == nil || !strings.Contains(err.Error(), "unknown element class 'TSourc'") || !strings.Contains(err.Error(), "did you mean 'TSource'") {
		t.Fatalf("got %v", err)
	}
}

func TestPushPullResolution(t *testing.T) {
	r, err := build(t, "s :: TSource(1) -> a :: TPass -> q :: TQueue -> b :: TPass -> u :: TUnqueue -> k :: TSink", 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Node("a").Elem.Core().Output(0).Kind; got != core.Push {
		t.Errorf("a output = %v, want push", got)
	}
	if got := r.Node("b").Elem.Core().Input(0).Kind; got != core.Pull {
		t.Errorf("b input = %v, want pull", got)
	}
	ports, err := r.Read("b.ports", "")
	if err != nil {
		t.Fatal(err)
	}
	want := "1 input\npull~\t-\tq [0]\n1 output\npull~\t-\t[0] u\n"
	if ports != want {
		t.Errorf("ports = %q, want %q", ports, want)
	}
}

func TestOptionalOutputStaysUnconnected(t *testing.T) {
	// 1/1-2 with only output 0 used: one output, no "unused" error.
	r, err := build(t, "TSource(1) -> x :: TTwoOut -> TSink", 1)
	if err != nil {
		t.Fatal(err)
	}
	if n := r.Node("x").Elem.Core().NOutputs(); n != 1 {
		t.Errorf("outputs = %d, want 1", n)
	}
}

func TestRunStopsWhenSourcesFinishAndDrains(t *testing.T) {
	for _, threads := range []int{1, 2} {
		r, err := build(t, `
			s1 :: TSource(1000, STOP true) -> q :: TQueue -> TUnqueue -> k :: TSink;
		`, threads)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := r.Run(ctx, RunOptions{}); err != nil {
			t.Fatal(err)
		}
		if ctx.Err() != nil {
			t.Fatalf("threads=%d: run did not end by itself", threads)
		}
		cancel()
		k := r.Node("k").Elem.(*tSink)
		if k.count.Load() != 1000 || !k.inOrder.Load() {
			t.Errorf("threads=%d: sink got %d packets (in order: %v), want 1000 in order", threads, k.count.Load(), k.inOrder.Load())
		}
	}
}

func TestQueueSplitsThreads(t *testing.T) {
	r, err := build(t, "TSource(10, STOP true) -> a :: TPass -> q :: TQueue -> u :: TUnqueue -> k :: TSink", 2)
	if err != nil {
		t.Fatal(err)
	}
	if ta, tu := r.Node("a").Elem.Core().Thread(), r.Node("u").Elem.Core().Thread(); ta == tu {
		t.Errorf("producer and consumer on the same thread %d with 2 threads", ta)
	}
	if tk, tu := r.Node("k").Elem.Core().Thread(), r.Node("u").Elem.Core().Thread(); tk != tu {
		t.Errorf("sink on thread %d, its puller on %d", tk, tu)
	}
}

func TestHandlersWhileRunning(t *testing.T) {
	r, err := build(t, "TSource(1000000000) -> p :: TPass -> TSink", 1)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx, RunOptions{}); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		v, err := r.Read("p.seen", "")
		if err != nil {
			t.Fatal(err)
		}
		if v != "0" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("p.seen never moved")
		}
		time.Sleep(time.Millisecond)
	}
	if err := r.Write("p.seen", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Read("p.nosuch", ""); err == nil || err.(*HandlerError).Code != CodeNoHandler {
		t.Errorf("missing handler error = %v", err)
	}
	if _, err := r.Read("nosuch.count", ""); err == nil || err.(*HandlerError).Code != CodeNoElement {
		t.Errorf("missing element error = %v", err)
	}
	if err := r.Write("stop", ""); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("write to stop did not end the run")
	}
	cancel()
}

func TestGlobalHandlersAndGlobs(t *testing.T) {
	r, err := build(t, "a :: TSource(1) -> b :: TSink; c :: TSource(2) -> d :: TSink", 1)
	if err != nil {
		t.Fatal(err)
	}
	list, _ := r.Read("list", "")
	if list != "4\na\nb\nc\nd\n" {
		t.Errorf("list = %q", list)
	}
	specs, err := r.ExpandHandlers("*.count")
	if err != nil || strings.Join(specs, " ") != "b.count d.count" {
		t.Errorf("*.count -> %v, %v", specs, err)
	}
	specs, err = r.ExpandHandlers("TSink.count")
	if err != nil || strings.Join(specs, " ") != "b.count d.count" {
		t.Errorf("TSink.count -> %v, %v", specs, err)
	}
	if v, _ := r.Read("1.class", ""); v != "TSource" {
		t.Errorf("1.class = %q", v)
	}
}

func TestTimersFireOnWorker(t *testing.T) {
	r, err := build(t, "TSource(1) -> p :: TPass -> TSink", 1)
	if err != nil {
		t.Fatal(err)
	}
	fired := make(chan int, 1)
	tm := core.NewTimer(func(ctx *core.Ctx) { fired <- ctx.Thread })
	r.AddTimer(r.Node("p").Elem, tm)
	tm.ScheduleAt(time.Now().Add(5 * time.Millisecond).UnixNano())
	ctx, cancel := context.WithCancel(context.Background())
	go r.Run(ctx, RunOptions{})
	defer cancel()
	select {
	case th := <-fired:
		if th != 0 {
			t.Errorf("timer ran on thread %d", th)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("timer never fired")
	}
}

// State transfer for the test elements, as real queues and sources do.
func (s *tSource) TakeState(old core.Element) {
	o := old.(*tSource)
	s.sent = o.sent
	if s.stop && s.sent >= s.limit {
		s.Router().StopperDone(s)
	}
}
func (q *tQueue) TakeState(old core.Element) {
	o := old.(*tQueue)
	for {
		select {
		case p := <-o.ch:
			q.ch <- p
		default:
			return
		}
	}
}
func (s *tSink) TakeState(old core.Element) {
	o := old.(*tSink)
	s.count.Store(o.count.Load())
	s.next = o.next
	s.inOrder.Store(o.inOrder.Load())
}

func TestHotReloadLosesNoPacket(t *testing.T) {
	const total = 200000
	confs := []string{
		"s :: TSource(200000, STOP true) -> q :: TQueue -> u :: TUnqueue -> k :: TSink",
		"s :: TSource(200000, STOP true) -> p :: TPass -> q :: TQueue -> u :: TUnqueue -> k :: TSink",
		"s :: TSource(200000, STOP true) -> q :: TQueue -> u :: TUnqueue -> p2 :: TPass -> k :: TSink",
	}
	r, err := build(t, confs[0], 2)
	if err != nil {
		t.Fatal(err)
	}
	rn := NewRunner(r, BuildOptions{Threads: 2, Log: func(string) {}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() { rn.Run(ctx, RunOptions{}); close(done) }()
	swaps := 0
	for i := 1; ; i++ {
		if k, _ := rn.Read("k.count", ""); k == itoa(total) {
			break
		}
		if _, err := rn.Reload(ctx, parse(t, confs[i%len(confs)])); err != nil {
			if ctx.Err() != nil {
				break
			}
			t.Fatalf("reload %d: %v", i, err)
		}
		swaps++
		if swaps >= 20 {
			break
		}
	}
	<-done
	if ctx.Err() != nil {
		t.Fatal("run did not finish")
	}
	k := rn.Router().Node("k").Elem.(*tSink)
	if got := k.count.Load(); got != total || !k.inOrder.Load() {
		t.Errorf("after %d swaps sink got %d packets (in order %v), want %d", swaps, got, k.inOrder.Load(), total)
	}
	if swaps == 0 {
		t.Error("no swap happened while traffic ran")
	}
}

func TestReloadRollsBackOnBrokenConfig(t *testing.T) {
	r, err := build(t, "s :: TSource(1000000000) -> p :: TPass -> TSink", 1)
	if err != nil {
		t.Fatal(err)
	}
	rn := NewRunner(r, BuildOptions{Log: func(string) {}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { rn.Run(ctx, RunOptions{}); close(done) }()
	_, err = rn.Reload(ctx, parse(t, "s :: TSource(1) -> p :: TPass -> q :: TPass"))
	if err == nil || !strings.Contains(err.Error(), "'q :: TPass' output 0 unused") {
		t.Fatalf("broken reload error = %v", err)
	}
	if rn.Router() != r || rn.Swaps != 0 {
		t.Error("a failed reload replaced the running graph")
	}
	before, _ := rn.Read("p.seen", "")
	time.Sleep(20 * time.Millisecond)
	after, _ := rn.Read("p.seen", "")
	if before == after {
		t.Error("the old graph stopped running after a failed reload")
	}
	cancel()
	<-done
}

func TestTraceFollowsPacketsThroughTheGraph(t *testing.T) {
	r, err := build(t, "s :: TSource(1000000000) -> p :: TPass -> q :: TQueue -> u :: TUnqueue -> k :: TSink", 1)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx, RunOptions{}); close(done) }()
	defer func() { cancel(); <-done }()
	// Follow only packets whose first byte is 7 (sequence numbers wrap).
	r.TraceAdd(2, func(p *packet.Packet) bool { return p.Data()[0] == 7 })
	deadline := time.Now().Add(5 * time.Second)
	for {
		pk := r.TracePackets()
		if len(pk) == 2 && len(pk[1].Hops) == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("trace incomplete:\n%s", r.TraceShow())
		}
		time.Sleep(time.Millisecond)
	}
	pk := r.TracePackets()
	var path []string
	for _, h := range pk[0].Hops {
		path = append(path, h.Element+"->"+h.Next)
	}
	if got := strings.Join(path, " "); got != "s->[0] p p->[0] q q [0]->[0] u u->[0] k" {
		t.Errorf("path = %s", got)
	}
	r.TraceClear()
	if r.Node("p").Elem.Core().Output(0).Tap != nil {
		t.Error("tap left installed after TraceClear")
	}
}

func TestStatsAndClearCounters(t *testing.T) {
	r, err := build(t, "s :: TSource(100, STOP true) -> p :: TPass -> k :: TSink", 1)
	if err != nil {
		t.Fatal(err)
	}
	r.Run(context.Background(), RunOptions{})
	st := r.Stats()
	if st[1].Name != "p" || st[1].Outputs[0] != 100 || st[0].Outputs[0] != 100 {
		t.Fatalf("stats = %+v", st)
	}
	r.ClearCounters()
	if got := r.Stats()[1].Outputs[0]; got != 0 {
		t.Errorf("after clear, p output = %d", got)
	}
	if v, _ := r.Read("p.seen", ""); v != "100" {
		// TPass has no reset handler: its own counter stays.
		t.Errorf("p.seen = %s", v)
	}
}

func TestApproveHookVetoesBuildAndReload(t *testing.T) {
	veto := func(g *lang.Graph) error {
		for _, e := range g.Elements {
			if e.Class == "TTwoOut" {
				return &RejectedError{Reason: "TTwoOut is not allowed here"}
			}
		}
		return nil
	}
	opts := BuildOptions{Approve: veto, Log: func(string) {}}
	if _, err := Build(parse(t, "TSource(1) -> TTwoOut -> TSink"), opts); err == nil || !strings.Contains(err.Error(), "rejected by policy: TTwoOut") {
		t.Fatalf("build not vetoed: %v", err)
	}
	r, err := Build(parse(t, "s :: TSource(1000000000) -> p :: TPass -> TSink"), opts)
	if err != nil {
		t.Fatal(err)
	}
	rn := NewRunner(r, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { rn.Run(ctx, RunOptions{}); close(done) }()
	if _, err := rn.Reload(ctx, parse(t, "s :: TSource(1) -> p :: TTwoOut -> TSink")); err == nil {
		t.Error("reload to a vetoed config succeeded")
	}
	if rn.Swaps != 0 {
		t.Error("vetoed reload swapped")
	}
	cancel()
	<-done
}

func TestWorkersPinnedToConfiguredCPUs(t *testing.T) {
	if got := cpuFor(0, []int{1}); got != 1 {
		t.Errorf("worker 0 with cpus [1] -> %d", got)
	}
	if got := cpuFor(3, []int{0, 1}); got != 1 {
		t.Errorf("worker 3 with cpus [0 1] -> %d", got)
	}
	if got := cpuFor(5, nil); got != 5%goruntime.NumCPU() {
		t.Errorf("worker 5 without a list -> %d", got)
	}
	// A real run pinned to the last CPU: the worker thread's affinity
	// must be exactly that CPU.
	last := goruntime.NumCPU() - 1
	r, err := build(t, "s :: TSource(1000000000) -> p :: TPass -> TSink", 1)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx, RunOptions{Pin: true, CPUs: []int{last}}); close(done) }()
	for !r.Running() {
		time.Sleep(time.Millisecond)
	}
	var set unix.CPUSet
	r.OnThread(r.Node("p").Elem, func() { unix.SchedGetaffinity(0, &set) })
	cancel()
	<-done
	if set.Count() != 1 || !set.IsSet(last) {
		t.Errorf("worker affinity = %v CPUs (cpu %d set: %v), want only CPU %d", set.Count(), last, set.IsSet(last), last)
	}
}

func TestPinningStaysInsideTheInheritedMask(t *testing.T) {
	all := allowedCPUs()
	if len(all) < 2 {
		t.Skip("needs 2 CPUs to restrict the mask")
	}
	// Restrict this (locked) thread to the last CPU, as `taskset -c N`
	// would, and check the worker lands there, not on CPU 0.
	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()
	var orig, only unix.CPUSet
	unix.SchedGetaffinity(0, &orig)
	defer unix.SchedSetaffinity(0, &orig)
	last := all[len(all)-1]
	only.Set(last)
	if err := unix.SchedSetaffinity(0, &only); err != nil {
		t.Skip("cannot set affinity:", err)
	}
	if got := allowedCPUs(); len(got) != 1 || got[0] != last {
		t.Fatalf("allowedCPUs = %v, want [%d]", got, last)
	}
	r, err := build(t, "s :: TSource(1000000000) -> p :: TPass -> TSink", 1)
	if err != nil {
		t.Fatal(err)
	}
	// Start from this thread so the run reads the restricted mask.
	r.start(RunOptions{Pin: true})
	var set unix.CPUSet
	r.OnThread(r.Node("p").Elem, func() { unix.SchedGetaffinity(0, &set) })
	r.halt()
	if !set.IsSet(last) || set.Count() != 1 {
		t.Errorf("worker pinned outside the inherited mask (count %d, cpu %d set %v)", set.Count(), last, set.IsSet(last))
	}
}

// A worker whose idle flag is stale (asleep or starved of CPU: no pass
// since the last check) must not count as quiet, or the run could end
// with packets still queued.
func TestDrainNeedsFreshIdlePasses(t *testing.T) {
	a, b := &worker{}, &worker{}
	a.idle.Store(true)
	b.idle.Store(true)
	ws := []*worker{a, b}
	seen := make([]uint64, 2)
	a.passes.Store(5)
	b.passes.Store(7)
	if !allIdleSince(ws, seen) {
		t.Fatal("both idle with fresh passes: not quiet")
	}
	a.passes.Store(6) // b made no pass since: its idle flag is stale
	if allIdleSince(ws, seen) {
		t.Error("a worker with no pass since the last check counted as quiet")
	}
	a.passes.Store(7)
	b.passes.Store(8)
	if !allIdleSince(ws, seen) {
		t.Error("fresh idle passes again: should be quiet")
	}
	b.idle.Store(false)
	a.passes.Store(8)
	b.passes.Store(9)
	if allIdleSince(ws, seen) {
		t.Error("a busy worker counted as quiet")
	}
}
