package sched

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"kcplab/harness"
	"kcplab/internal/kcpleak"
	"kcplab/stall"
)

// fakeRun is a job's run without kcp-go: trials trials, par at a time, each holding a slot for hold
// (a trial's work), counted in flight across every fake job by inFlight; the most seen goes to peak.
type fakeRun struct {
	trials, par    int
	hold           time.Duration
	inFlight, peak *atomic.Int64
}

func (f fakeRun) run(ctx context.Context, s *Slots) error {
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range f.par {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				if s.Acquire(ctx) != nil {
					continue
				}
				if s.Start(ctx) != nil {
					s.Release()
					continue
				}
				n := f.inFlight.Add(1)
				for p := f.peak.Load(); n > p && !f.peak.CompareAndSwap(p, n); p = f.peak.Load() {
				}
				select {
				case <-time.After(f.hold):
				case <-ctx.Done():
				}
				f.inFlight.Add(-1)
				s.Release()
			}
		}()
	}
	for i := 0; i < f.trials && ctx.Err() == nil; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return ctx.Err()
}

// fakeJobs makes one job per estimate, each a fakeRun; started records the order they started in.
func fakeJobs(t *testing.T, estimates []time.Duration, f fakeRun, started *[]string, mu *sync.Mutex) []Job {
	t.Helper()
	jobs := make([]Job, len(estimates))
	for i, d := range estimates {
		name := fmt.Sprint("job", i)
		jobs[i] = Job{Name: name, Estimate: d, Run: func(ctx context.Context, s *Slots) error {
			mu.Lock()
			*started = append(*started, name)
			mu.Unlock()
			return f.run(ctx, s)
		}}
	}
	return jobs
}

func TestOrder(t *testing.T) {
	t.Parallel()
	jobs := []Job{{Estimate: 3}, {Estimate: 9}, {Estimate: 1}, {Estimate: 9}, {Estimate: 5}}
	for _, tc := range []struct {
		name       string
		sequential bool
		want       []int
	}{
		{"side by side: longest first, ties in the given order", false, []int{1, 3, 4, 0, 2}},
		{"sequential: the given order", true, []int{0, 1, 2, 3, 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, order(jobs, tc.sequential))
		})
	}
}

// TestRunStartsLongestFirst: with room for one job at a time, jobs start in order of their estimates,
// longest first; sequential, in the given order. done reports them in the given order either way.
func TestRunStartsLongestFirst(t *testing.T) {
	t.Parallel()
	estimates := []time.Duration{2 * time.Second, 50 * time.Second, 7 * time.Second, 9 * time.Second}
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string
	}{
		{"side by side", Config{Limit: 2, Floor: 2}, []string{"job1", "job3", "job2", "job0"}},
		{"sequential", Sequential(2), []string{"job0", "job1", "job2", "job3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var started []string
			var mu sync.Mutex
			var inFlight, peak atomic.Int64
			// Each job wants the whole bound: the next starts only once a slot is free and the one
			// before has asked for its own.
			jobs := fakeJobs(t, estimates, fakeRun{trials: 4, par: 2, hold: time.Millisecond, inFlight: &inFlight, peak: &peak}, &started, &mu)
			var done []int
			require.NoError(t, Run(context.Background(), tc.cfg, jobs, func(i int) { done = append(done, i) }))
			assert.Equal(t, tc.want, started)
			assert.Equal(t, []int{0, 1, 2, 3}, done)
			assert.LessOrEqual(t, peak.Load(), int64(2))
		})
	}
}

// TestBoundNeverExceeded: many jobs side by side, each wanting more than the bound, never have more
// trials in flight than the bound, and do run side by side; each job's Concurrency says so.
func TestBoundNeverExceeded(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		limit, par int
		jobs       int
	}{
		{"bound below one job's own", 3, 5, 4},
		{"bound of a few jobs", 7, 2, 8},
		{"bound of one", 1, 3, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var inFlight, peak atomic.Int64
			f := fakeRun{trials: 12, par: tc.par, hold: 500 * time.Microsecond, inFlight: &inFlight, peak: &peak}
			conc := make([]harness.Concurrency, tc.jobs)
			jobs := make([]Job, tc.jobs)
			for i := range jobs {
				jobs[i] = Job{Estimate: time.Duration(i), Run: func(ctx context.Context, s *Slots) error {
					err := f.run(ctx, s)
					conc[i] = s.Concurrency()
					return err
				}}
			}
			cfg := Config{Limit: tc.limit, Floor: 1, Spacing: 10 * time.Microsecond}
			require.NoError(t, Run(context.Background(), cfg, jobs, func(int) {}))
			assert.LessOrEqual(t, peak.Load(), int64(tc.limit), "trials in flight")
			assert.Positive(t, peak.Load())
			sideBySide := 0
			for i, c := range conc {
				assert.LessOrEqual(t, c.InFlightMax, tc.limit, "job %d", i)
				assert.LessOrEqual(t, c.InFlightMean, float64(tc.limit), "job %d", i)
				assert.Positive(t, c.InFlightMean, "job %d", i)
				assert.Equal(t, tc.limit, c.InFlightLimit)
				assert.True(t, c.SideBySide)
				sideBySide = max(sideBySide, c.ExperimentsSideBySide)
			}
			if tc.limit > tc.par {
				assert.Greater(t, sideBySide, 1, "jobs that leave slots free run side by side")
			}
		})
	}
}

// TestSequentialRunsOneAtATime: sequential jobs never overlap.
func TestSequentialRunsOneAtATime(t *testing.T) {
	t.Parallel()
	var inFlight, peak atomic.Int64
	f := fakeRun{trials: 6, par: 3, hold: 500 * time.Microsecond, inFlight: &inFlight, peak: &peak}
	conc := make([]harness.Concurrency, 4)
	jobs := make([]Job, len(conc))
	for i := range jobs {
		jobs[i] = Job{Estimate: time.Duration(i), Run: func(ctx context.Context, s *Slots) error {
			err := f.run(ctx, s)
			conc[i] = s.Concurrency()
			return err
		}}
	}
	require.NoError(t, Run(context.Background(), Sequential(3), jobs, func(int) {}))
	for i, c := range conc {
		assert.Equal(t, 1, c.ExperimentsSideBySide, "job %d", i)
		assert.False(t, c.SideBySide)
		assert.LessOrEqual(t, c.InFlightMax, 3)
	}
}

// TestAdapt: synthetic loads move the bound down by a quarter (to the floor) above the high share, up
// by a sixteenth of the ceiling (to the ceiling) below the low share, and leave it in between.
func TestAdapt(t *testing.T) {
	t.Parallel()
	a := Adapt{High: 0.05, Low: 0.01}
	const window = 100 * time.Millisecond
	high, mid, low := 20*time.Millisecond, 3*time.Millisecond, 0*time.Millisecond
	for _, tc := range []struct {
		name   string
		stalls []time.Duration
		want   []int
	}{
		{"load lowers to the floor", []time.Duration{high, high, high, high, high, high, high}, []int{24, 18, 14, 11, 9, 8, 8}},
		{"calm raises to the ceiling", []time.Duration{high, high, low, low, low, low, low}, []int{24, 18, 20, 22, 24, 26, 28}},
		{"in between holds", []time.Duration{high, mid, mid, low}, []int{24, 24, 24, 26}},
		{"calm at the ceiling stays", []time.Duration{low, low}, []int{32, 32}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newPool(Config{Limit: 32, Floor: 8})
			s := p.start(0)
			var got []int
			for _, st := range tc.stalls {
				got = append(got, p.adapt(a, st, window))
			}
			assert.Equal(t, tc.want, got)
			assert.Equal(t, min(32, minOf(tc.want)), s.Concurrency().LimitMin)
		})
	}
}

func minOf(xs []int) int {
	m := xs[0]
	for _, x := range xs {
		m = min(m, x)
	}
	return m
}

// TestAdaptHoldsAndGrants: a lowered bound lets no new trial in until enough have ended; a raised one
// grants the waiting trials at once.
func TestAdaptHoldsAndGrants(t *testing.T) {
	t.Parallel()
	ctx, p := poolFor(t, Config{Limit: 4, Floor: 2})
	a := Adapt{High: 0.05, Low: 0.01}
	s := p.start(0)
	for range 4 {
		require.NoError(t, s.Acquire(ctx))
	}
	assert.Equal(t, 3, p.adapt(a, time.Second, time.Second), "fully stalled: a quarter less")
	got := make(chan error, 1)
	go func() { got <- s.Acquire(ctx) }()
	s.Release() // 3 in flight: still at the bound
	s.Release() // 2 in flight: the waiter gets one
	require.NoError(t, <-got)
	assert.Equal(t, 2, p.adapt(a, time.Second, time.Second))
	s.Release() // 2 in flight: at the bound
	go func() { got <- s.Acquire(ctx) }()
	waitFor(t, p, func() bool { return len(p.waiters) == 1 })
	assert.Equal(t, 3, p.adapt(a, 0, time.Second), "calm: one more")
	require.NoError(t, <-got, "the waiter gets the new slot")
}

// TestSlotTime: between two readings, the integral grows by the trials in flight times the time
// between them, counting every job's trials, and only theirs.
func TestSlotTime(t *testing.T) {
	t.Parallel()
	ctx, p := poolFor(t, Config{Limit: 8, Floor: 8})
	a, b := p.start(0), p.start(1)
	for _, tc := range []struct {
		name         string
		take, give   *Slots // one more slot of take, one back of give (nil: none)
		wantInFlight int
	}{
		{"none in flight", nil, nil, 0},
		{"one job's trial", a, nil, 1},
		{"another job's trials count too", b, nil, 2},
		{"a third", b, nil, 3},
		{"one given back", nil, a, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.take != nil {
				require.NoError(t, tc.take.Acquire(ctx))
			}
			if tc.give != nil {
				tc.give.Release()
			}
			from, t0 := a.SlotTime()
			busy := time.Now()
			for time.Since(busy) < time.Millisecond { // let the clock move on
			}
			to, t1 := b.SlotTime()
			require.True(t, t1.After(t0))
			assert.Equal(t, time.Duration(tc.wantInFlight)*t1.Sub(t0), to-from)
		})
	}
}

// poolFor returns a new pool of cfg and a context that ends with the test, or after 5 s.
func poolFor(t *testing.T, cfg Config) (context.Context, *pool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx, newPool(cfg)
}

// waitFor waits until cond holds under p.mu, signalled by p's changes, for at most 5 s.
func waitFor(t *testing.T, p *pool, cond func() bool) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		p.mu.Lock()
		ok := cond()
		p.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-p.changed:
		case <-deadline:
			t.Fatal("condition not met in 5 s")
		}
	}
}

// TestWatchFollowsLoad: the watcher reads the load once per window and moves the bound by it: down to
// the floor while the load is high, then back up to the ceiling once it is calm.
func TestWatchFollowsLoad(t *testing.T) {
	t.Parallel()
	p := newPool(Config{Limit: 16, Floor: 4})
	var bounds []int
	calls := 0
	var total time.Duration
	ended := make(chan struct{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	a := Adapt{Window: time.Millisecond, High: 0.05, Low: 0.01, Load: func() stall.Totals {
		// Called from the watcher before each adaptation: the bound is the last one's.
		calls++
		if calls > 1 {
			p.mu.Lock()
			bounds = append(bounds, p.bound)
			p.mu.Unlock()
		}
		if calls <= 8 {
			total += time.Hour // stalled for more than the window, however long it was
		}
		if calls == 30 {
			cancel()
			close(ended)
		}
		return stall.Totals{Ping: total}
	}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.watch(ctx, a)
	}()
	<-ended
	<-done
	require.GreaterOrEqual(t, len(bounds), 28)
	assert.Equal(t, []int{16, 12, 9, 7, 6, 5, 4, 4}, bounds[:8], "high load: down to the floor")
	assert.Equal(t, 16, bounds[len(bounds)-1], "calm: back to the ceiling")
	for i := 8; i < len(bounds); i++ {
		assert.GreaterOrEqual(t, bounds[i], bounds[i-1], "calm never lowers the bound")
	}
}

// TestGrantByRank: a slot that comes free goes to the waiting trial of the job that started first
// (the longest), not to the one that waited longest.
func TestGrantByRank(t *testing.T) {
	t.Parallel()
	ctx, p := poolFor(t, Config{Limit: 1, Floor: 1})
	long, short := p.start(0), p.start(1)
	require.NoError(t, long.Acquire(ctx))
	order := make(chan string, 2)
	wait := func(s *Slots, name string, n int) {
		go func() {
			if s.Acquire(ctx) == nil {
				order <- name
				s.Release()
			}
		}()
		waitFor(t, p, func() bool { return len(p.waiters) == n })
	}
	wait(short, "short", 1)
	wait(long, "long", 2)
	long.Release()
	assert.Equal(t, "long", <-order)
	assert.Equal(t, "short", <-order)
}

// TestCancelDrains: cancelling the context ends every job, the ones waiting for slots too; Run returns
// the cancellation once all have ended, reports none as done, and leaves no goroutine behind.
func TestCancelDrains(t *testing.T) {
	kcpleak.LeaksNothing(t)
	ctx, cancel := context.WithCancel(context.Background())
	var inFlight, peak atomic.Int64
	f := fakeRun{trials: 1000, par: 4, hold: time.Hour, inFlight: &inFlight, peak: &peak}
	var started []string
	var mu sync.Mutex
	two := f
	two.par = 2
	jobs := fakeJobs(t, []time.Duration{1, 2, 3}, two, &started, &mu)
	full := make(chan struct{})
	jobs = append(jobs, Job{Estimate: 0, Run: func(ctx context.Context, s *Slots) error {
		close(full) // the last to start: it gets the last slot, and its other trials wait for one
		return f.run(ctx, s)
	}})
	errc := make(chan error, 1)
	var done []int
	go func() { errc <- Run(ctx, Config{Limit: 7, Floor: 7}, jobs, func(i int) { done = append(done, i) }) }()
	select {
	case <-full:
	case <-time.After(10 * time.Second):
		t.Fatal("the last job never started")
	}
	cancel()
	select {
	case err := <-errc:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not end in 10 s after its context was cancelled")
	}
	assert.Zero(t, inFlight.Load())
	assert.Empty(t, done)
}

// TestJobErrorStopsTheOthers: a job's error cancels the others, is returned, and ends the reports.
func TestJobErrorStopsTheOthers(t *testing.T) {
	kcpleak.LeaksNothing(t)
	boom := errors.New("boom")
	var inFlight, peak atomic.Int64
	f := fakeRun{trials: 1000, par: 2, hold: time.Hour, inFlight: &inFlight, peak: &peak}
	asked := make(chan struct{})
	jobs := []Job{
		{Estimate: 2, Run: func(ctx context.Context, s *Slots) error {
			close(asked)
			return f.run(ctx, s)
		}},
		{Estimate: 1, Run: func(ctx context.Context, s *Slots) error {
			<-asked
			return boom
		}},
	}
	var done []int
	err := Run(context.Background(), Config{Limit: 8, Floor: 8}, jobs, func(i int) { done = append(done, i) })
	require.ErrorIs(t, err, boom)
	assert.Empty(t, done)
	assert.Zero(t, inFlight.Load())
}

func TestRunRejectsNoBound(t *testing.T) {
	t.Parallel()
	assert.Error(t, Run(context.Background(), Config{}, nil, func(int) {}))
}
