package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"

	"kcplab/capture"
	"kcplab/experiments"
	"kcplab/harness"
	"kcplab/link"
)

func runList(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr("list takes no arguments")
	}
	for _, e := range experiments.All() {
		fmt.Fprintf(stdout, "%-20s %3d trials  %s\n", e.ID, e.Trials, e.Title)
	}
	return nil
}

// runFlags are the flags shared by run and results.
type runFlags struct {
	trials, parallel int
	out, capture     string
	discover         bool
	link             link.Flag
	seed             uint64
	sched            schedFlags // schedule.go
}

func (f *runFlags) register(fs *flag.FlagSet, defaultOut string) {
	intVar(fs, &f.trials, "trials", 0, 0, 100000, "trials per experiment (0: each experiment's default)")
	intVar(fs, &f.parallel, "parallel", harness.DefaultParallel, 1, 64, "trials running at once")
	fs.StringVar(&f.out, "out", defaultOut, "directory for DIR/ID/trial-NNN.pcapng and DIR/ID/summary.json")
	fs.StringVar(&f.capture, "capture", "tap", "capture source: tap (in-process) or live (libpcap on lo: root, or the cap_net_raw that make caps grants)")
	fs.BoolVar(&f.discover, "discover", false, "a trial that fits no named class gets a class named by what happened, instead of failing")
	fs.Var(&f.link, "link", "run every trial over this link between the peers (implies -discover; timing is then reported, not judged), e.g. 'loss=10%,delay=30ms,jitter=10ms,s2c.blackhole=2s..' (keys loss burst drop delay jitter reorder dup rate queue blackhole, prefix c2s. or s2c. for one direction)")
	fs.Uint64Var(&f.seed, "seed", 0, "the link's seed: trial n uses seed+n-1, so a trial's seed from summary.json replays it with -trials 1 (0: random)")
	f.sched.register(fs)
}

// selected resolves the experiment ids (all when none is given) and validates the flags.
func (f *runFlags) selected(ids []string) ([]*harness.Experiment, harness.CaptureKind, error) {
	kind, err := harness.ParseCaptureKind(f.capture)
	if err != nil {
		return nil, "", usageErr("-capture: %v", err)
	}
	if kind == harness.CaptureLive {
		if err := capture.LiveAvailable(); err != nil {
			return nil, "", usageErr("%v", err)
		}
	}
	exps, err := selectExperiments(ids)
	return exps, kind, err
}

// options are the run options the flags set (a -link implies -discover).
func (f *runFlags) options(kind harness.CaptureKind) harness.RunOptions {
	return harness.RunOptions{Parallel: f.parallel, Capture: kind, Discover: f.discover || f.link.Config != nil, Link: f.link.Config, Seed: f.seed}
}

// runAll runs the experiments (side by side unless -sequential: schedule.go), printing a summary of
// each to w, and their progress: a progress bar on stderr when it is a terminal, else a line on w
// every few seconds.
func (f *runFlags) runAll(w, stderr io.Writer, exps []*harness.Experiment, kind harness.CaptureKind) ([]*harness.Result, error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	results, err := f.schedule(ctx, w, stderr, exps, kind)
	if err != nil {
		return results, err
	}
	failed, timing := 0, 0
	for _, res := range results {
		failed += len(res.Failed())
		timing += len(res.TimingFailed())
	}
	return results, verdict(failed, timing)
}

// verdict is a run's exit status: 1 when a trial failed or a timing distribution is not kcp-go's.
func verdict(failed, timing int) error {
	switch {
	case failed > 0:
		return failErr("%d trial(s) failed; their pcapng files are kept (see above)", failed)
	case timing > 0:
		return failErr("%d timing distribution(s) are not what kcp-go's timers make them (see above)", timing)
	}
	return nil
}

func runRun(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	var f runFlags
	f.register(fs, "out")
	var sf shardFlags
	sf.register(fs, true)
	ids, err := parse(fs, args)
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
		return f.runShard(stdout, exps, kind, &sf, sh)
	}
	_, err = f.runAll(stdout, stderr, exps, kind)
	if err == nil {
		fmt.Fprintf(stdout, "open a trial in Wireshark: wireshark -X lua_script:wireshark/kcp.lua %s\n",
			filepath.Join(f.out, exps[0].ID, "trial-001.pcapng"))
	}
	return err
}
