package sched

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"kcplab/harness"
)

// ErrNamedTwice is an experiment given twice to run side by side.
var ErrNamedTwice = errors.New("named twice")

// Show is what Experiments prints of each experiment, and where its progress goes.
type Show struct {
	// Start prints the line that opens experiment e's output, for a run of trials trials.
	Start func(w io.Writer, e *harness.Experiment, trials int)
	// Progress returns experiment i's harness.RunOptions.Progress, and what to call when its run ends.
	Progress func(i int, w io.Writer, trials int) (progress func(done, total int), finish func())
	// Result prints the experiment's result, whose summary.json is at summary.
	Result func(w io.Writer, res *harness.Result, summary string)
	// Flush is called before an experiment's held lines are written (side by side only).
	Flush func()
}

// Experiments runs exps under cfg with opts, each writing its pcapng files and summary.json under
// opts.OutDir/ID (what an earlier run left there removed first), and returns the results of the
// experiments that ended, in their given order. Side by side, each experiment's lines are held until
// it and every one before it have ended, so that the output reads as one experiment after another.
//
// Side by side, an experiment named twice is ErrNamedTwice: its runs would share one directory.
func Experiments(ctx context.Context, cfg Config, exps []*harness.Experiment, opts harness.RunOptions, w io.Writer, show Show) ([]*harness.Result, error) {
	seen := map[string]bool{}
	for _, e := range exps {
		if seen[e.ID] && !cfg.Sequential {
			return nil, fmt.Errorf("%s is %w: side by side its runs would share %s (run it with -sequential)", e.ID, ErrNamedTwice, filepath.Join(opts.OutDir, e.ID))
		}
		seen[e.ID] = true
	}
	results := make([]*harness.Result, len(exps))
	held := make([]*bytes.Buffer, len(exps))
	jobs := make([]Job, len(exps))
	for i, e := range exps {
		n, out := e.TrialCount(opts.Trials), w
		var est time.Duration
		if !cfg.Sequential {
			held[i] = &bytes.Buffer{}
			out = held[i]
			est = Estimate(e, n, opts.Parallel, opts.OutDir)
		}
		jobs[i] = Job{Name: e.ID, Estimate: est, Run: func(ctx context.Context, s *Slots) error {
			show.Start(out, e, n)
			dir := filepath.Join(opts.OutDir, e.ID)
			if err := harness.RemoveTrials(dir); err != nil {
				return err
			}
			o := opts
			o.Slots = s
			var finish func()
			o.Progress, finish = show.Progress(i, out, n)
			res, err := harness.Run(ctx, e, o)
			finish()
			if err != nil {
				return err
			}
			c := s.Concurrency()
			res.Concurrency = &c
			path, err := res.WriteSummary(dir)
			if err != nil {
				return err
			}
			show.Result(out, res, path)
			results[i] = res
			return nil
		}}
	}
	var done []*harness.Result
	err := Run(ctx, cfg, jobs, func(i int) {
		if held[i] != nil {
			show.Flush()
			_, _ = w.Write(held[i].Bytes())
		}
		done = append(done, results[i])
	})
	return done, err
}
