package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"kcplab/harness"
	"kcplab/sched"
)

// schedFlags are the flags of the scheduler that runs the experiments (package sched).
type schedFlags struct {
	sequential bool
	inFlight   int
}

// maxInFlight bounds -in-flight: every trial holds sockets, goroutines and a capture.
const maxInFlight = 256

func (s *schedFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&s.sequential, "sequential", false, "run the experiments one after another, in the order given, as kcplab did before (default: side by side)")
	fs.IntVar(&s.inFlight, "in-flight", 0, fmt.Sprintf("side by side: trials in flight in all experiments at once; under load the bound drops, down to -parallel (0: 4 × -parallel, at most %d)", maxInFlight))
}

func (s *schedFlags) check() error {
	if s.inFlight < 0 || s.inFlight > maxInFlight {
		return usageErr("-in-flight %d: want 0..%d", s.inFlight, maxInFlight)
	}
	return nil
}

// config is the scheduler's configuration for runs of parallel trials at once each.
func (s *schedFlags) config(parallel int) sched.Config {
	if s.sequential {
		return sched.Sequential(parallel)
	}
	n := s.inFlight
	if n == 0 {
		n = min(4*parallel, maxInFlight)
	}
	return sched.SideBySide(parallel, n)
}

// schedule runs the experiments under the scheduler and prints each one's lines as runAll always did:
// side by side, each experiment's lines are kept until it ends, and printed in the order given as
// soon as it and every one before it have ended. It returns the results of the experiments printed.
func (f *runFlags) schedule(ctx context.Context, w, stderr io.Writer, exps []*harness.Experiment, kind harness.CaptureKind) ([]*harness.Result, error) {
	cfg := f.sched.config(f.parallel)
	if !cfg.Sequential {
		seen := map[string]bool{}
		for _, e := range exps {
			if seen[e.ID] {
				return nil, usageErr("%s is named twice: side by side its runs would share OUT/%s (run it with -sequential)", e.ID, e.ID)
			}
			seen[e.ID] = true
		}
	}
	results := make([]*harness.Result, len(exps))
	outs := make([]*bytes.Buffer, len(exps))
	trials := make([]int, len(exps))
	total := 0
	for i, e := range exps {
		trials[i] = f.trials
		if trials[i] == 0 {
			trials[i] = e.Trials
		}
		total += trials[i]
	}
	var bar *sharedBar
	if !cfg.Sequential {
		bar = newSharedBar(stderr, len(exps), total)
	}
	jobs := make([]sched.Job, len(exps))
	for i, e := range exps {
		n := trials[i]
		out := w
		if !cfg.Sequential {
			outs[i] = &bytes.Buffer{}
			out = outs[i]
		}
		var est time.Duration
		if !cfg.Sequential {
			est = sched.Estimate(e, n, f.parallel, f.out)
		}
		jobs[i] = sched.Job{Name: e.ID, Estimate: est, Run: func(ctx context.Context, s *sched.Slots) error {
			fmt.Fprintf(out, "%s: %s (%d trials, %d at once, %s capture)\n", e.ID, e.Title, n, f.parallel, kind)
			if err := removeOldTrials(filepath.Join(f.out, e.ID)); err != nil {
				return err
			}
			var progress func(done, total int)
			finish := func() {}
			if bar != nil {
				progress = bar.job(i)
			} else {
				progress, finish = newProgress(out, stderr, e.ID, n, "trials")
			}
			res, err := harness.Run(ctx, e, harness.RunOptions{Trials: f.trials, Parallel: f.parallel, Capture: kind,
				OutDir: f.out, Discover: f.discover || f.link.cfg != nil, Link: f.link.cfg, Seed: f.seed, Progress: progress,
				Slots: s})
			finish()
			if err != nil {
				return err
			}
			c := s.Concurrency()
			res.Concurrency = &c
			path, err := res.WriteSummary(filepath.Join(f.out, e.ID))
			if err != nil {
				return err
			}
			printSummary(out, res, path)
			results[i] = res
			return nil
		}}
	}
	var done []*harness.Result
	err := sched.Run(ctx, cfg, jobs, func(i int) {
		if outs[i] != nil {
			bar.clear()
			_, _ = w.Write(outs[i].Bytes())
		}
		done = append(done, results[i])
	})
	bar.finish()
	return done, err
}

// sharedBar is one progress bar on a terminal for experiments side by side (nil elsewhere: each
// experiment then prints its own progress lines with its output).
type sharedBar struct {
	mu   sync.Mutex
	bar  *progressbar.ProgressBar
	done []int
}

func newSharedBar(stderr io.Writer, jobs, trials int) *sharedBar {
	f, ok := stderr.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return &sharedBar{bar: newBar(f, trials, fmt.Sprintf("  %d experiments", jobs)), done: make([]int, jobs)}
}

// newBar is the progress bar of n trials that kcplab draws on a terminal, cleared when it finishes
// (so that the lines printed after it stay readable).
func newBar(f *os.File, n int, desc string) *progressbar.ProgressBar {
	return progressbar.NewOptions(n,
		progressbar.OptionSetWriter(f),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetWidth(40),
		progressbar.OptionClearOnFinish())
}

// job returns experiment i's harness.RunOptions.Progress.
func (b *sharedBar) job(i int) func(done, total int) {
	return func(done, _ int) {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.done[i] = done
		sum := 0
		for _, d := range b.done {
			sum += d
		}
		_ = b.bar.Set(sum)
	}
}

// clear takes the bar off the terminal before lines are printed; the next trial draws it again.
func (b *sharedBar) clear() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	_ = b.bar.Clear()
}

func (b *sharedBar) finish() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	_ = b.bar.Finish()
}
