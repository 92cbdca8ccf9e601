package experiments

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kcplab/capture"
	"kcplab/harness"
)

var (
	captureFlag = flag.String("kcplab.capture", "tap", "capture source for the experiments: tap or live (root, -tags pcap)")
	// The tests check that every trial fits a class and keeps the invariants; the class frequencies
	// that RESULTS.md reports come from `make results`/`make capture` (200 trials each). 20 trials at
	// 8 at once keep `go test ./experiments -run p003 -count=20` inside go test's default 10 minutes.
	trialsFlag   = flag.Int("kcplab.trials", 20, "trials per experiment (0: each experiment's default)")
	parallelFlag = flag.Int("kcplab.parallel", 8, "trials running at once")
	keepFlag     = flag.String("kcplab.keep", "", "directory for failing trials' pcapng files (default: $TMPDIR/kcplab-failed)")
)

// TestExperiments runs every experiment: each trial must fit exactly one class and keep every invariant.
// With -v it prints each class's count and one decoded ladder.
func TestExperiments(t *testing.T) {
	kind, err := harness.ParseCaptureKind(*captureFlag)
	if err != nil {
		t.Fatal(err)
	}
	if kind == harness.CaptureLive {
		if err := capture.LiveAvailable(); err != nil {
			t.Skipf("live capture unavailable: %v", err)
		}
	}
	// Experiments run one after the other, each with its trials in parallel: what they measure is
	// timing, so they must not compete with each other (or with tshark) for the CPU.
	for _, e := range All() {
		t.Run(e.ID, func(t *testing.T) {
			res, err := harness.Run(context.Background(), e, harness.RunOptions{
				Trials: *trialsFlag, Parallel: *parallelFlag, Capture: kind, OutDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range res.Failed() {
				t.Errorf("trial %d failed (pcapng kept: %s):\n%v", f.Trial, keep(t, e.ID, f.Pcapng), f.Err)
			}
			t.Log(describe(res))
			verifyWithTshark(t, res)
		})
	}
}

// keep copies a failing trial's pcapng out of the test's temporary directory and returns where it went.
func keep(t *testing.T, id, path string) string {
	if path == "" {
		return "(none written)"
	}
	dir := *keepFlag
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "kcplab-failed")
	}
	dst := filepath.Join(dir, id, filepath.Base(path))
	data, err := os.ReadFile(path)
	if err == nil {
		err = os.MkdirAll(filepath.Dir(dst), 0o755)
	}
	if err == nil {
		err = os.WriteFile(dst, data, 0o644)
	}
	if err != nil {
		t.Errorf("keeping %s: %v", path, err)
		return path
	}
	return dst
}

func describe(res *harness.Result) string {
	var b strings.Builder
	n := len(res.Trials)
	fmt.Fprintf(&b, "%s: %d trials in %.1fs\n", res.Experiment.ID, n, res.Elapsed.Seconds())
	for _, c := range res.Experiment.Classes {
		k := res.Counts[c.Name]
		fmt.Fprintf(&b, "class %q: %d/%d (%.0f%%)\n", c.Name, k, n, 100*float64(k)/float64(n))
		if ex := res.Example(c.Name); ex != nil {
			fmt.Fprintf(&b, "  e.g. trial %d, %d accepted session(s):\n", ex.Trial, ex.Trace.Accepts)
			for _, line := range strings.Split(strings.TrimRight(ex.Trace.Ladder(), "\n"), "\n") {
				b.WriteString("    " + line + "\n")
			}
		}
	}
	if load := res.Load(); load != "" {
		b.WriteString(load + "\n")
	}
	if res.Experiment.Answer != nil {
		b.WriteString("answer: " + res.Experiment.Answer(res) + "\n")
	}
	return b.String()
}
