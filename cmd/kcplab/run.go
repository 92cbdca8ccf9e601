package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"kcplab/capture"
	"kcplab/experiments"
	"kcplab/harness"
	"kcplab/internal/cli"
	"kcplab/internal/progress"
	"kcplab/link"
	"kcplab/report"
	"kcplab/sched"
)

func runList(ctx context.Context, c *cli.Call) error {
	if err := c.NoArgs(); err != nil {
		return err
	}
	for _, e := range experiments.All() {
		fmt.Fprintf(c.Stdout, "%-20s %3d trials  %s\n", e.ID, e.Trials, e.Title)
	}
	return nil
}

// runFlags are the flags shared by run and results.
type runFlags struct {
	trials, parallel, inFlight int
	out, capture               string
	discover, sequential       bool
	link                       link.Flag
	seed                       uint64
}

func (f *runFlags) register(fs *flag.FlagSet, defaultOut string) {
	cli.IntVar(fs, &f.trials, "trials", 0, 0, 100000, "trials per experiment (0: each experiment's default)")
	cli.IntVar(fs, &f.parallel, "parallel", harness.DefaultParallel, 1, 64, "trials running at once")
	fs.StringVar(&f.out, "out", defaultOut, "directory for DIR/ID/trial-NNN.pcapng and DIR/ID/summary.json")
	fs.StringVar(&f.capture, "capture", "tap", "capture source: tap (in-process) or live (libpcap on lo: root, or the cap_net_raw that make caps grants)")
	fs.BoolVar(&f.discover, "discover", false, "a trial that fits no named class gets a class named by what happened, instead of failing")
	fs.Var(&f.link, "link", "run every trial over this link between the peers (implies -discover; timing is then reported, not judged), e.g. 'loss=10%,delay=30ms,jitter=10ms,s2c.blackhole=2s..' (keys loss burst drop delay jitter reorder dup rate queue blackhole, prefix c2s. or s2c. for one direction)")
	fs.Uint64Var(&f.seed, "seed", 0, "the link's seed: trial n uses seed+n-1, so a trial's seed from summary.json replays it with -trials 1 (0: random)")
	fs.BoolVar(&f.sequential, "sequential", false, "run the experiments one after another, in the order given, as kcplab did before (default: side by side)")
	cli.IntVar(fs, &f.inFlight, "in-flight", 0, 0, sched.MaxInFlight, "side by side: trials in flight in all experiments at once; under load the bound drops, down to -parallel (0: 4 × -parallel)")
}

// selected resolves the experiment ids (all when none is given) and validates the flags, -out
// included.
func (f *runFlags) selected(ids []string) ([]*harness.Experiment, harness.CaptureKind, error) {
	kind, err := harness.ParseCaptureKind(f.capture)
	if err != nil {
		return nil, "", cli.Usage("-capture: %v", err)
	}
	if kind == harness.CaptureLive {
		if err := capture.LiveAvailable(); err != nil {
			return nil, "", cli.Usage("%v", err)
		}
	}
	exps, err := experiments.SelectAll(ids)
	if err != nil {
		return nil, "", err
	}
	return exps, kind, cli.OutDir("out", f.out)
}

// options are the run options the flags set (a -link implies -discover).
func (f *runFlags) options(kind harness.CaptureKind) harness.RunOptions {
	return harness.RunOptions{Parallel: f.parallel, Capture: kind, Discover: f.discover || f.link.Config != nil, Link: f.link.Config, Seed: f.seed,
		Trials: f.trials, OutDir: f.out}
}

// runAll runs the experiments (side by side unless -sequential, under package sched), printing each
// one's summary to w in the order given, and their progress: a bar on stderr when it is a terminal,
// else a line on w every few seconds. It writes the run's class counts, which kcplab compare reads, as
// OUT/matrix.json, and returns them.
func (f *runFlags) runAll(ctx context.Context, w, stderr io.Writer, exps []*harness.Experiment, kind harness.CaptureKind) ([]*harness.Result, *report.Matrix, error) {
	cfg := sched.SideBySide(f.parallel, f.inFlight)
	var bar *progress.Shared
	if f.sequential {
		cfg = sched.Sequential(f.parallel)
	} else {
		total := 0
		for _, e := range exps {
			total += e.TrialCount(f.trials)
		}
		bar = progress.NewShared(stderr, len(exps), total, fmt.Sprintf("  %d experiments", len(exps)))
	}
	results, err := sched.Experiments(ctx, cfg, exps, f.options(kind), w, sched.Show{
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
	if err != nil {
		return results, nil, err
	}
	counts := report.RunMatrix(results, f.out, f.trials)
	if err := report.WriteMatrix(filepath.Join(f.out, "matrix.json"), counts); err != nil {
		return results, nil, err
	}
	return results, counts, verdict(results)
}

// verdict is a run's exit status: 1 when a trial failed or a timing distribution is not kcp-go's.
func verdict(results []*harness.Result) error {
	failed, timing := 0, 0
	for _, res := range results {
		failed += len(res.Failed())
		timing += len(res.TimingFailed())
	}
	switch {
	case failed > 0:
		return cli.Fail("%d trial(s) failed; their pcapng files are kept (see above)", failed)
	case timing > 0:
		return cli.Fail("%d timing distribution(s) are not what kcp-go's timers make them (see above)", timing)
	}
	return nil
}

func runRun(ctx context.Context, c *cli.Call) error {
	var f runFlags
	f.register(c.Flags, "out")
	var sf shardFlags
	sf.register(c.Flags, true)
	ids, err := c.Parse()
	if err != nil {
		return err
	}
	exps, kind, err := f.selected(ids)
	if err != nil {
		return err
	}
	if sh, err := sf.resolve(); err != nil {
		return err
	} else if sh.Split() || sf.cells != "" {
		return f.runShard(ctx, c.Stdout, exps, kind, &sf, sh)
	}
	_, _, err = f.runAll(ctx, c.Stdout, c.Stderr, exps, kind)
	if err == nil {
		fmt.Fprintf(c.Stdout, "open a trial in Wireshark: wireshark -X lua_script:wireshark/kcp.lua %s\n",
			filepath.Join(f.out, exps[0].ID, "trial-001.pcapng"))
	}
	return err
}
