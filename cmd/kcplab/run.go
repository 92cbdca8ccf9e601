package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/term"

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
	link             linkFlag
	seed             uint64
	sched            schedFlags // schedule.go
}

// linkFlag is the -link flag: a link SPEC, parsed when set.
type linkFlag struct{ cfg *link.Config }

func (l *linkFlag) String() string {
	if l.cfg == nil {
		return ""
	}
	return l.cfg.String()
}

func (l *linkFlag) Set(s string) error {
	c, err := link.Parse(s)
	if err != nil {
		return err
	}
	l.cfg = &c
	return nil
}

func (f *runFlags) register(fs *flag.FlagSet, defaultOut string) {
	fs.IntVar(&f.trials, "trials", 0, "trials per experiment (0: each experiment's default)")
	fs.IntVar(&f.parallel, "parallel", harness.DefaultParallel, "trials running at once")
	fs.StringVar(&f.out, "out", defaultOut, "directory for DIR/ID/trial-NNN.pcapng and DIR/ID/summary.json")
	fs.StringVar(&f.capture, "capture", "tap", "capture source: tap (in-process) or live (libpcap on lo: root, or the cap_net_raw that make caps grants)")
	fs.BoolVar(&f.discover, "discover", false, "a trial that fits no named class gets a class named by what happened, instead of failing")
	fs.Var(&f.link, "link", "run every trial over this link between the peers (implies -discover; timing is then reported, not judged), e.g. 'loss=10%,delay=30ms,jitter=10ms,s2c.blackhole=2s..' (keys loss burst drop delay jitter reorder dup rate queue blackhole, prefix c2s. or s2c. for one direction)")
	fs.Uint64Var(&f.seed, "seed", 0, "the link's seed: trial n uses seed+n-1, so a trial's seed from summary.json replays it with -trials 1 (0: random)")
	f.sched.register(fs)
}

// selected resolves the experiment ids (all when none is given) and validates the flags.
func (f *runFlags) selected(ids []string) ([]*harness.Experiment, harness.CaptureKind, error) {
	if f.trials < 0 || f.trials > 100000 {
		return nil, "", usageErr("-trials %d: want 0..100000", f.trials)
	}
	if f.parallel < 1 || f.parallel > 64 {
		return nil, "", usageErr("-parallel %d: want 1..64", f.parallel)
	}
	if err := f.sched.check(); err != nil {
		return nil, "", err
	}
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
	switch {
	case failed > 0:
		return results, failErr("%d trial(s) failed; their pcapng files are kept (see above)", failed)
	case timing > 0:
		return results, failErr("%d timing distribution(s) are not what kcp-go's timers make them (see above)", timing)
	}
	return results, nil
}

// removeOldTrials removes the trial-NNN.pcapng files and summary.json an earlier run left in dir, so
// that a run of fewer trials does not leave captures that its summary does not list.
func removeOldTrials(dir string) error {
	old, err := filepath.Glob(filepath.Join(dir, "trial-[0-9][0-9][0-9]*.pcapng"))
	if err != nil {
		return err
	}
	for _, p := range append(old, filepath.Join(dir, "summary.json")) {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// newProgress returns a harness.RunOptions.Progress function for a run of n units (trials, or a
// claims run's cases), and a function to call when the run ends. On a terminal it draws a progress
// bar on stderr (cleared at the end, so the summary that follows stays readable); otherwise it prints
// "  done/total UNIT" to w every 2 s.
func newProgress(w, stderr io.Writer, id string, n int, unit string) (progress func(done, total int), finish func()) {
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		bar := newBar(f, n, "  "+id)
		return func(done, _ int) { _ = bar.Set(done) }, func() { _ = bar.Finish() }
	}
	last := time.Now()
	return func(done, total int) {
		if time.Since(last) > 2*time.Second || done == total {
			fmt.Fprintf(w, "  %d/%d %s\n", done, total, unit)
			last = time.Now()
		}
	}, func() {}
}

func printSummary(w io.Writer, res *harness.Result, summaryPath string) {
	n := len(res.Trials)
	classes := append(slices.Clone(res.Experiment.Classes), res.Discovered()...)
	width := 0
	for _, c := range classes {
		width = max(width, len(c.Name))
	}
	for _, c := range classes {
		k := res.Count(c)
		fmt.Fprintf(w, "  %-*s %4d/%d (%5.1f%%)\n", width, c.Name, k, n, 100*float64(k)/float64(max(n, 1)))
	}
	for _, t := range res.Failed() {
		fmt.Fprintf(w, "  FAILED trial %d: %s\n", t.Trial, indent(t.Err.Error()))
		if t.Pcapng != "" {
			fmt.Fprintf(w, "    kept: %s\n", t.Pcapng)
		}
	}
	for _, c := range res.Crossed() {
		fmt.Fprintf(w, "  re-run: %s\n    kept: %s\n", c.Error(), c.Pcapng)
	}
	if res.Experiment.Answer != nil {
		fmt.Fprintf(w, "  answer: %s\n", res.Experiment.Answer(res))
	}
	if k := len(res.TimingTrials); k > 0 {
		fmt.Fprintf(w, "  %d more trial(s) for timing only: stalls of the process had left too few values to judge\n", k)
	}
	for _, v := range res.Timing {
		if !v.OK || len(v.Outliers) > 0 {
			fmt.Fprintf(w, "  timing %s\n", v)
		}
	}
	if load := res.Load().String(); load != "" {
		fmt.Fprintf(w, "  %s\n", load)
	}
	fmt.Fprintf(w, "  %.1fs; pcapng files and summary: %s\n", res.Elapsed.Seconds(), filepath.Dir(summaryPath))
}

func indent(s string) string { return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ") }

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
