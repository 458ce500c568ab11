package runtime

import (
	"container/heap"
	"os"
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
)

// task is one scheduled element with what the scheduler needs per run.
type task struct {
	node *Node
	run  core.Tasker
	// nonFull lists queues downstream of a source: when every one of
	// them is full the source is not run (Click's full notification).
	nonFull []core.NonFullNotifier
}

// worker is one pinned thread running tasks and timers.
type worker struct {
	id     int
	ctx    *core.Ctx
	tasks  []task
	timers timerHeap
	mail   chan func()
	nmail  atomic.Int32
	idle   atomic.Bool   // set when the last loop did no work
	passes atomic.Uint64 // loop passes so far (drain detection needs fresh ones)
	sched  *scheduler
}

type scheduler struct {
	r        *Router
	workers  []*worker
	depot    *packet.Depot
	stopping atomic.Bool
	draining atomic.Bool
	finished atomic.Int64 // Unix ns when the last stopper finished
	running  atomic.Bool
	stoppers int
	done     map[core.Element]bool
	mu       sync.Mutex
	stateMu  sync.RWMutex // guards the running transitions for inline handler calls
	wg       sync.WaitGroup
	stopCh   chan struct{}
	stopOnce sync.Once
	pin      bool
	cpus     []int // worker i runs on cpus[i % len(cpus)] when pinned
}

func newScheduler(r *Router, threads int) *scheduler {
	s := &scheduler{r: r, depot: &packet.Depot{}, done: map[core.Element]bool{}, stopCh: make(chan struct{})}
	for i := 0; i < threads; i++ {
		w := &worker{id: i, ctx: core.NewCtx(i, s.depot), mail: make(chan func(), 64), sched: s}
		s.workers = append(s.workers, w)
	}
	return s
}

// assign puts every element on a thread. Elements joined by connections
// form a domain that must run on one thread; queues (push in, pull out)
// split domains so producer and consumer may run on different threads.
func (s *scheduler) assign() {
	r := s.r
	n := len(r.Nodes)
	// node i: in-side = i, out-side = n+i (the same set unless a queue)
	parent := make([]int, 2*n)
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(x int) int {
		for parent[x] != x {
			parent[x] = parent[parent[x]]
			x = parent[x]
		}
		return x
	}
	union := func(a, b int) { parent[find(a)] = find(b) }
	for i, nd := range r.Nodes {
		if !isQueueLike(nd) {
			union(i, n+i)
		}
	}
	for _, c := range r.Conns {
		union(n+c.From, c.To)
	}
	// Domains with tasks get threads round robin, in config order. Task
	// elements are recognised by type: some only ask to be scheduled in
	// Initialize, which runs after assignment (timers need a thread).
	thread := map[int]int{}
	next := 0
	for i, nd := range r.Nodes {
		if _, isTask := nd.Elem.(core.Tasker); !isTask {
			continue
		}
		root := find(n + i)
		if _, ok := thread[root]; !ok {
			thread[root] = next % len(s.workers)
			next++
		}
	}
	for i, nd := range r.Nodes {
		t, ok := thread[find(n+i)]
		if !ok {
			t, ok = thread[find(i)]
		}
		if !ok {
			t = 0
		}
		nd.Elem.Core().SetThread(t)
	}
}

// isQueueLike reports whether an element stores packets between a push
// input and a pull output (its two sides may run on different threads).
func isQueueLike(nd *Node) bool {
	b := nd.Elem.Core()
	if b.NInputs() == 0 || b.NOutputs() == 0 {
		return false
	}
	for i := 0; i < b.NInputs(); i++ {
		if b.Input(i).Kind != core.Push {
			return false
		}
	}
	return b.Output(0).Kind == core.Pull
}

// prepare collects tasks and their full-queue notifiers; runs once before
// starting workers (after Initialize, when elements have asked for tasks).
func (s *scheduler) prepare() {
	for _, w := range s.workers {
		w.tasks = w.tasks[:0]
	}
	for _, nd := range s.r.Nodes {
		b := nd.Elem.Core()
		if !b.IsTask() {
			continue
		}
		t, ok := nd.Elem.(core.Tasker)
		if !ok {
			continue
		}
		w := s.workers[b.Thread()]
		w.tasks = append(w.tasks, task{node: nd, run: t, nonFull: s.r.downstreamQueues(nd)})
	}
}

// downstreamQueues finds the queues a source feeds through push paths.
func (r *Router) downstreamQueues(start *Node) []core.NonFullNotifier {
	var out []core.NonFullNotifier
	seen := map[*Node]bool{start: true}
	stack := []*Node{start}
	for len(stack) > 0 {
		nd := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for p, cs := range nd.outConns {
			if nd.Elem.Core().Output(p).Kind != core.Push {
				continue
			}
			for _, ci := range cs {
				next := r.Nodes[r.Conns[ci].To]
				if seen[next] {
					continue
				}
				seen[next] = true
				if q, ok := next.Elem.(core.NonFullNotifier); ok {
					out = append(out, q)
					continue
				}
				stack = append(stack, next)
			}
		}
	}
	return out
}

func anyNonFull(qs []core.NonFullNotifier) bool {
	for _, q := range qs {
		if q.NonFull() {
			return true
		}
	}
	return false
}

// loop is a worker's main loop: handler mail, due timers, one pass over
// tasks; idle passes back off with a short sleep so an idle box does not
// spin a core.
func (w *worker) loop() {
	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()
	if w.sched.pin {
		pinToCPU(cpuFor(w.id, w.sched.cpus))
	}
	idleSpins := 0
	sleep := time.Duration(0)
	var now int64
	for iter := uint64(0); !w.sched.stopping.Load(); iter++ {
		w.passes.Store(iter)
		// Reading the clock costs ~40 ns on some VMs (no TSC vDSO): while
		// busy, refresh it every 8 passes (a pass is at most a few µs).
		if iter%8 == 0 || idleSpins > 0 {
			now = time.Now().UnixNano()
			w.ctx.Now = now
		}
		if w.nmail.Load() > 0 {
			w.drainMail()
		}
		worked := w.runTimers(now)
		for i := range w.tasks {
			t := &w.tasks[i]
			if t.nonFull != nil && !anyNonFull(t.nonFull) {
				continue
			}
			if t.run.RunTask(w.ctx) {
				worked = true
			}
		}
		if worked {
			idleSpins, sleep = 0, 0
			w.idle.Store(false)
			continue
		}
		w.idle.Store(true)
		idleSpins++
		if idleSpins < 64 {
			continue
		}
		// Adaptive sleep (Snabb): grow by 10µs per idle pass up to 1ms,
		// but never past the next timer.
		if sleep < time.Millisecond {
			sleep += 10 * time.Microsecond
		}
		d := sleep
		if len(w.timers) > 0 {
			if until := time.Duration(w.timers[0].When() - now); until < d {
				d = max(until, 0)
			}
		}
		if d > 0 {
			w.waitMailOr(d)
		}
	}
	w.drainMail()
}

func (w *worker) waitMailOr(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case f := <-w.mail:
		w.nmail.Add(-1)
		f()
	case <-t.C:
	case <-w.sched.stopCh:
	}
}

func (w *worker) drainMail() {
	for {
		select {
		case f := <-w.mail:
			w.nmail.Add(-1)
			f()
		default:
			return
		}
	}
}

// runTimers fires every due timer; it reports whether any fired.
func (w *worker) runTimers(now int64) bool {
	fired := false
	for len(w.timers) > 0 && w.timers[0].When() <= now {
		t := heap.Pop(&w.timers).(*core.Timer)
		t.ScheduleAt(0)
		t.Fn(w.ctx)
		fired = true
	}
	return fired
}

// UpdateTimer implements core.TimerQueue for the worker's timers.
func (w *worker) UpdateTimer(t *core.Timer) {
	if t.Index >= 0 && t.Index < len(w.timers) && w.timers[t.Index] == t {
		if t.When() == 0 {
			heap.Remove(&w.timers, t.Index)
			return
		}
		heap.Fix(&w.timers, t.Index)
		return
	}
	if t.When() != 0 {
		heap.Push(&w.timers, t)
	}
}

type timerHeap []*core.Timer

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].When() < h[j].When() }
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].Index, h[j].Index = i, j
}
func (h *timerHeap) Push(x any) {
	t := x.(*core.Timer)
	t.Index = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	t.Index = -1
	return t
}

// cpuFor is the CPU worker id runs on: from the configured list, else
// spread over all CPUs.
func cpuFor(id int, cpus []int) int {
	if len(cpus) > 0 {
		return cpus[id%len(cpus)]
	}
	return id % goruntime.NumCPU()
}

// allowedCPUs lists the CPUs the calling thread may run on (nil if the
// mask cannot be read).
func allowedCPUs() []int {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return nil
	}
	var cpus []int
	for c := 0; c < len(set)*64; c++ {
		if set.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	return cpus
}

func pinToCPU(cpu int) {
	var set unix.CPUSet
	set.Set(cpu)
	_ = unix.SchedSetaffinity(0, &set) // best effort: containers may forbid it
}

func logStderr(s string) { os.Stderr.WriteString(s + "\n") }
