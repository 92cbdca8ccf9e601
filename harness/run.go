package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"kcplab/link"
)

// RunOptions configure a run of many trials.
type RunOptions struct {
	Trials   int         // 0: the experiment's own default
	Parallel int         // trials running at once (0: DefaultParallel)
	Capture  CaptureKind // tap (default) or live
	// OutDir receives OutDir/ID/trial-NNN.pcapng for every trial. When empty, only trials that fail
	// are written, under KeepDir.
	OutDir string
	// KeepDir is where failing trials' pcapng files go when OutDir is empty (KeepDir/ID/); when it is
	// empty too, a new directory under os.TempDir() is made for the run at its first failure, and kept.
	KeepDir  string
	Progress func(done, total int) // called after each trial (from one goroutine at a time)
	// Discover puts a trial that fits no named class (or breaks an invariant) in a class named by its
	// Signature, instead of failing it: a release's new behaviour then shows as data. Trials the
	// harness could not run still fail.
	Discover bool
	// Link, when not nil, puts every trial over this link instead of the experiment's own.
	Link *link.Config
	// Seed is the run's link seed: trial n draws the link's random decisions from Seed+n-1, so a
	// trial's seed (in summary.json and its pcapng) replays it as trial 1 of a run. 0: a random seed.
	Seed uint64
	// First numbers the run's trials First+1 .. First+Trials: a block of a larger run (kcplab matrix
	// -shard), whose trial n keeps its number, and so its seed, whichever block runs it.
	First int
	// Slots, when not nil, is a bound on trials in flight that this run shares with runs side by side
	// (package sched); the run's own Parallel still bounds its own trials.
	Slots Slots
}

// Slots is a bound on the trials in flight of several runs at once. A trial takes a slot before its
// run's own stagger (so that however slots come free, the run's trials start no closer than its
// stagger), waits for Start after it, and releases the slot when it ends.
type Slots interface {
	Acquire(ctx context.Context) error // waits for a free slot
	Start(ctx context.Context) error   // waits until a trial may start (the starts of every run, paced)
	Release()                          // gives back the slot that Acquire took
	// SlotTime is the integral over time of every run's trials in flight, up to at: between two
	// readings, its growth over the time between them is the mean number of trials in flight.
	SlotTime() (integral time.Duration, at time.Time)
}

// DefaultParallel is how many trials run at once unless RunOptions says otherwise.
const DefaultParallel = 20

// TrialResult is one classified trial.
type TrialResult struct {
	Trial      int
	Class      Class // the matching class; the zero Class when none matched
	Discovered bool  // Class was named by the trial's Signature (RunOptions.Discover)
	Err        error // why the trial failed: run error, no or several classes, or a broken invariant
	Trace      *Trace
	Pcapng     string // path of the trial's capture file, if written
	// Crossed lists the earlier attempts of this trial that another trial's datagram crossed (crossed.go)
	// or that a freeze of the process broke (freeze.go).
	Crossed []CrossedRun
	// InFlight is the mean number of trials, of every run sharing its Slots, in flight while this one
	// ran (itself and its crossed attempts included); 0 when the run had no Slots.
	InFlight float64
}

// Result is a run of one experiment.
type Result struct {
	Experiment *Experiment
	Capture    CaptureKind
	Parallel   int
	Stagger    time.Duration // the least time between two of the run's trial starts (Stagger)
	Started    time.Time
	Elapsed    time.Duration
	Trials     []TrialResult
	Counts     map[string]int // per class name, as summary.json lists them (Count reads it)
	Timing     []Verdict      // every timing expectation of every class, judged over the run's trials
	// TimingTrials are trials run after Trials only because stalls of the process left a timing
	// expectation with too few values to judge (needMoreTrials); they are classified and must fit a
	// class, but are not counted in Counts.
	TimingTrials []TrialResult
	Seed         uint64 // the run's link seed (trial n used Seed+n-1)
	// Concurrency is what the run shared the process with, when a scheduler ran it (package sched).
	Concurrency *Concurrency
	// KCPGoServer and KCPGoClient are the kcp-go versions of the peers of a pair run (peer.RunPair);
	// empty for a run in this process.
	KCPGoServer, KCPGoClient string
}

// Crossed returns every attempt of the run's trials that another trial crossed, or a freeze broke, and
// that was run again.
func (r *Result) Crossed() []CrossedRun {
	var out []CrossedRun
	for _, t := range slices.Concat(r.Trials, r.TimingTrials) {
		out = append(out, t.Crossed...)
	}
	return out
}

// TimingFailed returns the timing verdicts that failed: the distribution of a class's timing was not
// what kcp-go's timers make it.
func (r *Result) TimingFailed() []Verdict {
	var out []Verdict
	for _, v := range r.Timing {
		if !v.OK {
			out = append(out, v)
		}
	}
	return out
}

// OK reports whether every trial fitted a class and kept the invariants, and every timing verdict held.
func (r *Result) OK() bool { return len(r.Failed()) == 0 && len(r.TimingFailed()) == 0 }

// Failed returns the trials that failed.
func (r *Result) Failed() []TrialResult {
	var out []TrialResult
	for _, t := range slices.Concat(r.Trials, r.TimingTrials) {
		if t.Err != nil {
			out = append(out, t)
		}
	}
	return out
}

// Discovered returns the classes the run discovered, in order of their first trial.
func (r *Result) Discovered() []Class {
	var out []Class
	seen := map[string]bool{}
	for _, t := range r.Trials {
		if t.Discovered && !seen[t.Class.Name] {
			seen[t.Class.Name] = true
			out = append(out, t.Class)
		}
	}
	return out
}

// Count returns how many trials fell in class c.
func (r *Result) Count(c Class) int { return r.Counts[c.Name] }

// Example returns the first successful trial of a class, or nil.
func (r *Result) Example(class Class) *TrialResult {
	for i := range r.Trials {
		if r.Trials[i].Class.Is(class) && r.Trials[i].Err == nil {
			return &r.Trials[i]
		}
	}
	return nil
}

// Of returns the successful trials of a class.
func (r *Result) Of(class Class) []TrialResult {
	var out []TrialResult
	for _, t := range r.Trials {
		if t.Class.Is(class) && t.Err == nil {
			out = append(out, t)
		}
	}
	return out
}

// Run runs the experiment's trials (bounded parallelism), classifies each one and writes its pcapng.
// It returns an error only when the run as a whole could not proceed; failing trials are in the result.
func Run(ctx context.Context, e *Experiment, opts RunOptions) (*Result, error) {
	if err := e.CheckRoles(); err != nil {
		return nil, err
	}
	if opts.Link != nil {
		v := *e
		v.Link = *opts.Link
		e = &v
	}
	seed := opts.Seed
	if seed == 0 {
		seed = link.RandomSeed()
	}
	res := newResult(e, opts, orKind(opts.Capture), seed)
	open, release, err := opener(res.Capture)
	if err != nil {
		return nil, err
	}
	defer release()
	return runTrials(ctx, e, opts, res, func(ctx context.Context, n int, seed uint64) (*Trace, error) {
		return RunTrial(ctx, e, n, open, seed)
	})
}

// RunFunc runs e's trials with run in place of RunTrial, and classifies and saves each one as Run does
// (package peer runs them in peer processes). Trial n is run(ctx, n), its start spaced as RunTrial
// spaces its own. The trials have no link (the run's Seed is 0) and are captured by taps.
func RunFunc(ctx context.Context, e *Experiment, opts RunOptions, run func(ctx context.Context, n int) (*Trace, error)) (*Result, error) {
	res := newResult(e, opts, CaptureTap, 0)
	return runTrials(ctx, e, opts, res, func(ctx context.Context, n int, _ uint64) (*Trace, error) {
		if err := startPacer.Wait(ctx); err != nil {
			return nil, err
		}
		return run(ctx, n)
	})
}

// newResult is a run's result before its trials: every class of e counted 0.
func newResult(e *Experiment, opts RunOptions, kind CaptureKind, seed uint64) *Result {
	n := e.TrialCount(opts.Trials)
	par := min(orInt(opts.Parallel, DefaultParallel), n)
	res := &Result{Experiment: e, Capture: kind, Parallel: par, Stagger: Stagger(e, par), Started: time.Now(), Seed: seed,
		Trials: make([]TrialResult, n), Counts: map[string]int{}}
	for _, c := range e.Classes {
		res.Counts[c.Name] = 0
	}
	return res
}

// trialFunc runs trial n of a run with its link seed.
type trialFunc func(ctx context.Context, n int, seed uint64) (*Trace, error)

// runTrials runs res's trials with run (bounded parallelism), classifies and saves each one.
func runTrials(ctx context.Context, e *Experiment, opts RunOptions, res *Result, run trialFunc) (*Result, error) {
	n, par, seed := len(res.Trials), res.Parallel, res.Seed
	keep := &keepDir{dir: opts.KeepDir}
	dir := opts.OutDir
	if dir != "" {
		dir = filepath.Join(dir, e.ID)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
	}

	// The run's own start spacing (timing.go, Stagger), taken just before each trial starts.
	stagger := rate.NewLimiter(rate.Every(res.Stagger), 1)
	var mu sync.Mutex
	done := 0
	// batch runs trials first+1 .. first+len(out) into out, par at a time.
	batch := func(first int, out []TrialResult, progress func(done, total int)) error {
		jobs := make(chan int)
		var wg sync.WaitGroup
		for range min(par, len(out)) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range jobs {
					release, err := takeSlot(ctx, opts.Slots, stagger)
					if err != nil {
						continue // the run is cancelled: the feeder stops, and the error is returned below
					}
					n := first + i + 1
					inFlight := meterInFlight(opts.Slots)
					tr := runCrossed(ctx, e, n, run, dir, keep, opts.Discover, seed+uint64(n-1))
					tr.InFlight = inFlight()
					release()
					mu.Lock()
					out[i] = tr
					done++
					if progress != nil {
						progress(done, len(res.Trials))
					}
					mu.Unlock()
				}
			}()
		}
		for i := range out {
			if ctx.Err() != nil {
				break
			}
			jobs <- i
		}
		close(jobs)
		wg.Wait()
		return ctx.Err()
	}
	if err := batch(opts.First, res.Trials, opts.Progress); err != nil {
		return nil, err
	}
	for _, t := range res.Trials {
		if t.Class.Name != "" {
			res.Counts[t.Class.Name]++
		}
	}
	res.Timing = judgeTimings(e, res.Trials)
	// A verdict that stalls left with too few values to judge gets more trials, par at a time, until
	// every such verdict is judged or the run has run n more: they count for timing only (TimingTrials),
	// not in the class shares, which stay those of the n trials asked for.
	for opts.Link == nil && len(res.TimingTrials) < n && needMoreTrials(res.Timing) {
		more := make([]TrialResult, min(par, n-len(res.TimingTrials)))
		if err := batch(opts.First+n+len(res.TimingTrials), more, nil); err != nil {
			return nil, err
		}
		res.TimingTrials = append(res.TimingTrials, more...)
		res.Timing = judgeTimings(e, slices.Concat(res.Trials, res.TimingTrials))
	}
	if opts.Link != nil {
		// The experiment's timing expectations are written for its own network, not this one.
		for i := range res.Timing {
			res.Timing[i].Judged, res.Timing[i].OK = false, true
			res.Timing[i].Why = "the run's link is not the experiment's"
		}
	}
	res.Elapsed = time.Since(res.Started)
	return res, nil
}

// takeSlot waits until a trial of the run may start: a slot of the shared bound, if any, then the
// run's own stagger, then the shared pacing. It returns the function that gives the slot back.
func takeSlot(ctx context.Context, slots Slots, stagger *rate.Limiter) (release func(), err error) {
	if slots == nil {
		return func() {}, stagger.Wait(ctx)
	}
	if err := slots.Acquire(ctx); err != nil {
		return nil, err
	}
	if err := stagger.Wait(ctx); err != nil {
		slots.Release()
		return nil, err
	}
	if err := slots.Start(ctx); err != nil {
		slots.Release()
		return nil, err
	}
	return slots.Release, nil
}

// meterInFlight starts measuring the trials in flight in slots; the function it returns gives their
// mean since then (0 without slots).
func meterInFlight(slots Slots) func() float64 {
	if slots == nil {
		return func() float64 { return 0 }
	}
	from, t0 := slots.SlotTime()
	return func() float64 {
		to, t1 := slots.SlotTime()
		if !t1.After(t0) {
			return 0
		}
		return float64(to-from) / float64(t1.Sub(t0))
	}
}

func orKind(k CaptureKind) CaptureKind {
	if k == "" {
		return CaptureTap
	}
	return k
}

// keepDir is where a run keeps the pcapng files of failing trials when it writes no others.
type keepDir struct {
	once sync.Once
	dir  string
	err  error
}

// get returns the directory for experiment id, making it (and, when none was given, a new directory
// under os.TempDir() that outlives the run) at the first call.
func (k *keepDir) get(id string) (string, error) {
	k.once.Do(func() {
		if k.dir == "" {
			k.dir, k.err = os.MkdirTemp("", "kcplab-failed-")
		}
	})
	if k.err != nil {
		return "", k.err
	}
	d := filepath.Join(k.dir, id)
	return d, os.MkdirAll(d, 0o755)
}

// runOne runs, classifies and saves one trial.
// runCrossed runs trial n until an attempt is not crossed by another trial's datagram (crossed.go), at
// most maxCrossedRuns times, and likewise an attempt a freeze broke (freeze.go); the last attempt's result
// is the trial's, the earlier ones are listed in it.
func runCrossed(ctx context.Context, e *Experiment, n int, run trialFunc, dir string, keep *keepDir, disc bool, seed uint64) TrialResult {
	var crossed []CrossedRun
	for attempt := 1; ; attempt++ {
		last := attempt == maxCrossedRuns
		res := runOne(ctx, e, n, run, dir, keep, disc, seed, attempt, last)
		var c Crossing
		var f Freeze
		switch {
		case last || ctx.Err() != nil:
		case errors.As(res.Err, &c):
			crossed = append(crossed, CrossedRun{Crossing: &c, Pcapng: res.Pcapng})
			continue
		case errors.As(res.Err, &f):
			crossed = append(crossed, CrossedRun{Froze: &f, Pcapng: res.Pcapng})
			continue
		}
		res.Crossed = crossed
		return res
	}
}

// runOne runs one attempt of trial n, classifies it and writes its pcapng. An attempt that another
// trial crossed is not classified: it fails with the crossing, and its capture is named for the attempt.
// Unless it is the last, an attempt that failed while the process was frozen fails with the Freeze.
func runOne(ctx context.Context, e *Experiment, n int, run trialFunc, dir string, keep *keepDir, disc bool, seed uint64, attempt int, last bool) TrialResult {
	tr, err := run(ctx, n, seed)
	res := TrialResult{Trial: n, Trace: tr, Err: err}
	if tr == nil {
		return res
	}
	name := fmt.Sprintf("trial-%03d.pcapng", n)
	if c, crossed := tr.crossing(); crossed && err == nil {
		res.Err = c
		name = fmt.Sprintf("trial-%03d-crossed-%d.pcapng", n, attempt)
	} else if err == nil {
		res.Class, res.Err = Classify(e, tr)
		if res.Err != nil && !last && !disc {
			if f, ok := frozen(tr, res.Err, e.minRTO()); ok {
				res.Err = f
				name = fmt.Sprintf("trial-%03d-frozen-%d.pcapng", n, attempt)
			}
		}
		if disc && res.Err != nil {
			res.Class, res.Discovered, res.Err = discover(e, tr), true, nil
		}
	}
	if dir == "" && res.Err != nil {
		var mkErr error
		if dir, mkErr = keep.get(e.ID); mkErr != nil {
			res.Err = errors.Join(res.Err, fmt.Errorf("keeping the trial's pcapng: %w", mkErr))
			return res
		}
	}
	if dir != "" {
		path := filepath.Join(dir, name)
		if werr := writeTrialPcapng(path, e, tr, res.Class, res.Err); werr != nil {
			res.Err = errors.Join(res.Err, werr)
		} else {
			res.Pcapng = path
		}
	}
	return res
}

// Classify finds the one class a trace belongs to, by its wire pattern and application events, and
// checks the experiment's invariants on it, including that no step the protocol cannot send early
// came early. Time decides nothing else here: timing is judged over all the trials of a class. A
// trial that does not fit fails with a *TrialFailure.
func Classify(e *Experiment, tr *Trace) (Class, error) {
	var matched []Class
	var why []string
	var tried []Miss
	for _, c := range e.Classes {
		if err := c.match(tr); err != nil {
			why = append(why, fmt.Sprintf("not %q: %v", c.Name, err))
			tried = append(tried, missOf(c.Name, err))
			continue
		}
		matched = append(matched, c)
	}
	f := &TrialFailure{}
	for _, inv := range e.Invariants {
		if err := inv.Fn(tr); err != nil {
			f.add(Failure{Kind: FailInvariant, Invariant: inv.Name}, fmt.Errorf("invariant %q broken: %w", inv.Name, err))
		}
	}
	var class Class
	switch len(matched) {
	case 0:
		f.add(Failure{Kind: FailNoClass, Tried: tried},
			fmt.Errorf("trial %d fits no class; actual ladder:\n%s%s", tr.Trial, tr.Ladder(), strings.Join(why, "\n")))
	case 1:
		class = matched[0]
		for _, t := range matched[0].timings(e) {
			if err := t.Early(tr); err != nil {
				f.add(Failure{Kind: FailNeverEarly, Class: matched[0].Name, Timing: t.Name}, fmt.Errorf("invariant \"never early\" broken: %w", err))
			}
		}
	default:
		names := make([]string, len(matched))
		for i, c := range matched {
			names[i] = c.Name
		}
		sort.Strings(names)
		f.add(Failure{Kind: FailSeveralClasses, Classes: names}, fmt.Errorf("trial %d fits several classes: %s", tr.Trial, strings.Join(names, ", ")))
	}
	if len(f.Failures) == 0 {
		return class, nil
	}
	if len(tr.Stalls) > 0 {
		f.errs = append(f.errs, fmt.Errorf("note: the process stalled during this trial (%s)", tr.Stalls))
	}
	return class, f
}

func (c Class) match(tr *Trace) error {
	if err := c.Ladder.Match(tr.Segments); err != nil {
		return err
	}
	for _, ch := range c.Checks {
		if err := ch.Fn(tr); err != nil {
			return &checkFailed{name: ch.Name, err: err}
		}
	}
	return nil
}
