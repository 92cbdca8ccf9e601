// Package sched runs experiments side by side under one bound on the trials in flight across all of
// them, instead of one after another: most of a trial's time is spent waiting on kcp-go's timers, so
// one experiment at a time leaves the machine mostly idle, and the run takes the sum of its
// experiments' times.
//
//   - One bound (Config.Limit) holds every job's trials in flight; each job's run keeps its own bound
//     too (harness.RunOptions.Parallel), and with it its own stagger, so each experiment's trials are
//     started and judged as they are alone.
//   - Jobs start longest first (Job.Estimate): the longest one bounds the whole run, so it must not
//     start last. A slot that comes free goes to the job with the longest estimate that waits for one.
//     A next job starts when every running one has asked for its slots, none waits for one, and one is
//     free.
//   - Starts are paced across jobs (Config.Spacing), after each run's own stagger.
//   - The bound adapts to the load the stall probe measures (Adapt): when the process stalled for more
//     than a share of the last window, fewer trials may be in flight, down to Config.Floor; when it
//     was calm, more, up to Config.Limit. Timing verdicts rest on stalls being rare and short.
//
// Config.Sequential runs the jobs one after another in their given order, each with the whole bound:
// the order kcplab ran them in before, to compare with.
package sched

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"kcplab/harness"
	"kcplab/stall"
)

// Config is how Run runs its jobs.
type Config struct {
	// Limit is the most trials in flight at once across every job: the bound's ceiling.
	Limit int
	// Floor is the least the bound adapts down to under load (at least 1, at most Limit).
	Floor int
	// Sequential runs one job at a time, in the given order, with a fixed bound (no adaptation).
	Sequential bool
	// Spacing is the least time between two trial starts across jobs (0: no pacing across jobs).
	Spacing time.Duration
	// Adapt is how the bound follows the load; a nil Adapt.Load keeps it at Limit.
	Adapt Adapt
}

// Adapt is how the bound follows the load the stall probe measures: once per Window, the share of it
// in which the process stalled (the larger of the probe's two measurements) lowers the bound when
// above High and raises it when below Low (pool.adapt says by how much).
type Adapt struct {
	Window    time.Duration
	High, Low float64
	Load      func() stall.Totals // running sums of stalled time (stall.Stalled)
}

// DefaultAdapt lowers the bound when the process stalled for more than a tenth of a half-second
// window (50 ms), and raises it when it stalled for less than a fiftieth (10 ms). A timed value's
// window is 100-300 ms long: with a tenth of the time stalled most such windows hold a stall, whose
// values the verdict leaves out and top-up trials replace, so more trials in flight then cost more
// trials; in 10 ms, at most two stalls longer than a timed value's 4 ms tolerance fit.
var DefaultAdapt = Adapt{Window: 500 * time.Millisecond, High: 0.10, Low: 0.02, Load: stall.Stalled}

// DefaultSpacing is the least time between two trial starts across jobs side by side: twice the
// process's own floor (2 ms, harness/trial.go), so that the starts of several experiments, each
// paced by its own stagger, do not come in bursts. At most 250 starts a second: 5 experiments at the
// shortest stagger (12.8 ms at 25 at once) start 390 a second.
const DefaultSpacing = 4 * time.Millisecond

// MaxInFlight bounds the trials in flight at once: every trial holds sockets, goroutines and a capture.
const MaxInFlight = 256

// SideBySide is the Config that runs experiments side by side with at most inFlight trials in flight
// in all (0: 4 × parallel, at most MaxInFlight), the bound adapting down to parallel (each
// experiment's own bound: under load, about one experiment's worth of trials, as one after another
// would run).
func SideBySide(parallel, inFlight int) Config {
	if inFlight == 0 {
		inFlight = min(4*parallel, MaxInFlight)
	}
	return Config{Limit: inFlight, Floor: min(parallel, inFlight), Spacing: DefaultSpacing, Adapt: DefaultAdapt}
}

// Sequential is the Config that runs experiments one after another, as kcplab did before, each with
// up to parallel trials in flight.
func Sequential(parallel int) Config {
	return Config{Limit: parallel, Floor: parallel, Sequential: true}
}

// Job is one run under the scheduler, e.g. one experiment's.
type Job struct {
	Name     string        // e.g. the experiment's ID
	Estimate time.Duration // how long it should take; the longest start first
	// Run runs the job, its trials taking slots from s (harness.RunOptions.Slots); s.Concurrency says
	// what it ran under so far.
	Run func(ctx context.Context, s *Slots) error
}

// Run runs the jobs under cfg, and calls done(i) (from one goroutine at a time) for every job that
// succeeded, in the jobs' given order: for job i as soon as it and every job before it have ended.
// The first job's error cancels the others; Run waits for them to end and returns that error, and
// done is called no more. Cancelling ctx cancels every job.
func Run(ctx context.Context, cfg Config, jobs []Job, done func(i int)) error {
	if cfg.Limit < 1 {
		return fmt.Errorf("sched: a bound of %d trials in flight: want at least 1", cfg.Limit)
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait() // after cancel below, deferred later and so run first
	defer cancel()
	p := newPool(cfg)
	if cfg.Adapt.Load != nil && cfg.Adapt.Window > 0 && !cfg.Sequential {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.watch(ctx, cfg.Adapt)
		}()
	}

	type ending struct {
		i   int
		err error
	}
	ended := make(chan ending, len(jobs))
	order := order(jobs, cfg.Sequential)
	finished := make([]bool, len(jobs))
	var first error
	next, reported, running := 0, 0, 0
	stop := ctx.Done()
	for running > 0 || (first == nil && next < len(order)) {
		if first == nil && next < len(order) && p.canAdmit() {
			i, s := order[next], p.start(next)
			next++
			running++
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := jobs[i].Run(ctx, s)
				p.end(s)
				ended <- ending{i, err}
			}()
			continue
		}
		select {
		case e := <-ended:
			running--
			finished[e.i] = true
			if e.err != nil && first == nil {
				first = e.err
				cancel()
			}
			for first == nil && reported < len(jobs) && finished[reported] {
				done(reported)
				reported++
			}
		case <-p.changed:
		case <-stop:
			stop = nil // cancelled from outside: admit no more, and wait for the running jobs
			if first == nil {
				first = context.Cause(ctx)
			}
		}
	}
	return first
}

// order is the order jobs start in: longest estimate first (ties in the given order), or, sequential,
// the given order.
func order(jobs []Job, sequential bool) []int {
	idx := make([]int, len(jobs))
	for i := range idx {
		idx[i] = i
	}
	if !sequential {
		sort.SliceStable(idx, func(a, b int) bool { return jobs[idx[a]].Estimate > jobs[idx[b]].Estimate })
	}
	return idx
}

// watch adapts p's bound once per window to the load a.Load measures, until ctx ends.
func (p *pool) watch(ctx context.Context, a Adapt) {
	t := time.NewTicker(a.Window)
	defer t.Stop()
	prev, at := a.Load(), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			cur := a.Load()
			p.adapt(a, cur.Sub(prev).Max(), now.Sub(at))
			prev, at = cur, now
		}
	}
}

// Estimate is how long a run of e should take, to start the longest first: what its previous run
// took, when outDir/ID/summary.json is from a run of as many trials; otherwise its trial starts, n
// of them paced by its stagger at par at once, and then one trial to its time bound.
func Estimate(e *harness.Experiment, n, par int, outDir string) time.Duration {
	if d, ok := previous(filepath.Join(outDir, e.ID, "summary.json"), n); ok {
		return d
	}
	return time.Duration(n)*harness.Stagger(e, min(par, n)) + e.TrialTimeout()
}

// previous is the time a previous run of n trials took, from its summary.
func previous(path string, n int) (time.Duration, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	var s struct {
		Seconds float64           `json:"seconds"`
		Trials  []json.RawMessage `json:"trials"`
	}
	if err := json.Unmarshal(b, &s); err != nil || len(s.Trials) != n || s.Seconds <= 0 {
		return 0, false
	}
	return time.Duration(s.Seconds * float64(time.Second)), true
}
