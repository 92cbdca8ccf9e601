package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"kcplab/harness"
	"kcplab/internal/progress"
	"kcplab/report"
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
	intVar(fs, &s.inFlight, "in-flight", 0, 0, maxInFlight, "side by side: trials in flight in all experiments at once; under load the bound drops, down to -parallel (0: 4 × -parallel)")
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
	total := 0
	for _, e := range exps {
		total += e.TrialCount(f.trials)
	}
	var bar *progress.Shared
	if !cfg.Sequential {
		bar = progress.NewShared(stderr, len(exps), total, fmt.Sprintf("  %d experiments", len(exps)))
	}
	opts := f.options(kind)
	opts.Trials, opts.OutDir = f.trials, f.out
	done, err := sched.Experiments(ctx, cfg, exps, opts, w, sched.Show{
		Start: func(w io.Writer, e *harness.Experiment, n int) {
			fmt.Fprintf(w, "%s: %s (%d trials, %d at once, %s capture)\n", e.ID, e.Title, n, f.parallel, kind)
		},
		Progress: func(i int, w io.Writer, n int) (func(done, total int), func()) {
			if bar != nil {
				return bar.Job(i), func() {}
			}
			return progress.Counter(w, stderr, exps[i].ID, n, "trials")
		},
		Result: report.WriteResultText,
		Flush:  bar.Clear,
	})
	bar.Finish()
	return done, err
}
