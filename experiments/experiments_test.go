package experiments

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"kcplab/capture"
	"kcplab/harness"
)

var (
	captureFlag = flag.String("kcplab.capture", "tap", "capture source for the experiments: tap or live (root, -tags pcap)")
	// The tests check that every trial fits a class and keeps the invariants, and that each class's
	// timing has the distribution kcp-go's timers give it; the class frequencies that RESULTS.md
	// reports come from `make capture` (200 trials each). Verdicts do not depend on a quiet machine, so
	// every experiment runs at once, with all its trials in parallel.
	trialsFlag   = flag.Int("kcplab.trials", 20, "trials per experiment (0: each experiment's default)")
	parallelFlag = flag.Int("kcplab.parallel", 20, "trials of one experiment running at once")
	keepFlag     = flag.String("kcplab.keep", "", "directory for failing trials' pcapng files (default: a new kcplab-failed-* directory under $TMPDIR)")
	timingFlag   = flag.String("kcplab.timing", "judge", "judge: a timing distribution that is not kcp-go's fails the test; report: only log it")
	longFlag     = flag.Bool("kcplab.long", false, "run the full configuration of experiments whose timers run long (nobody-listening: 44 s), not their Short one")
)

// TestExperiments runs every experiment: each trial must fit exactly one class and keep every invariant,
// and each class's timing must have the distribution kcp-go's timers give it. With -v it prints
// progress, each class's count with one decoded ladder, and every timing verdict. Then its subtest
// "tshark" checks that tshark with the Lua dissector decodes every classified trial's pcapng as the
// ladder of its class, once no experiment's trials are running (so that tshark's CPU delays no
// experiment's segments).
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
	if *timingFlag != "judge" && *timingFlag != "report" {
		t.Fatalf("-kcplab.timing=%q: want judge or report", *timingFlag)
	}
	gate := newPhases()
	for _, e := range All() {
		t.Run(e.ID, func(t *testing.T) {
			t.Parallel()
			gate.enter(false)
			res := runExperiment(t, e, kind, func() { gate.leave(false) })
			t.Run("tshark", func(t *testing.T) {
				gate.enter(true)
				defer gate.leave(true)
				verifyWithTshark(t, res)
			})
		})
	}
}

// phases keeps the tshark checks apart from the experiments' trials: several experiments' trials run
// at once, and so do several checks, but never a check while trials run. A check waits for the trials
// running; trials that would start while a check waits or runs wait for the checks. (A check that
// waited for every experiment, started or not, would hold its -parallel slot and could keep the
// last experiments from starting.)
type phases struct {
	mu      sync.Mutex
	cond    sync.Cond
	trials  int // experiments whose trials are running
	checks  int // checks running
	waiting int // checks waiting for the trials
}

func newPhases() *phases {
	p := &phases{}
	p.cond.L = &p.mu
	return p
}

// enter waits until a check (check true) or an experiment's trials may run, and counts it running.
func (p *phases) enter(check bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if check {
		p.waiting++
		for p.trials > 0 {
			p.cond.Wait()
		}
		p.waiting--
		p.checks++
		return
	}
	for p.checks > 0 || p.waiting > 0 {
		p.cond.Wait()
	}
	p.trials++
}

// leave counts a check (check true) or an experiment's trials as finished.
func (p *phases) leave(check bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if check {
		p.checks--
	} else {
		p.trials--
	}
	p.cond.Broadcast()
}

// runExperiment runs e's trials and reports every failed trial and timing verdict; it calls done when
// its trials are over, also when it ends the test.
func runExperiment(t *testing.T, e *harness.Experiment, kind harness.CaptureKind, done func()) *harness.Result {
	t.Helper()
	defer done()
	if e.Short != nil && !*longFlag {
		t.Logf("%s: its short configuration (-kcplab.long runs the full one)", e.ID)
		e = e.Short
	}
	start := time.Now()
	var mu sync.Mutex
	last := start
	res, err := harness.Run(context.Background(), e, harness.RunOptions{
		Trials: *trialsFlag, Parallel: *parallelFlag, Capture: kind, OutDir: testOut,
		Progress: func(done, total int) {
			mu.Lock()
			defer mu.Unlock()
			if time.Since(last) >= 2*time.Second || done == total {
				t.Logf("%s: %d/%d trials done (%.1fs)", e.ID, done, total, time.Since(start).Seconds())
				last = time.Now()
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Failed() {
		t.Errorf("trial %d failed (pcapng kept: %s):\n%v", f.Trial, keep(t, e.ID, f.Pcapng), f.Err)
	}
	for _, c := range res.Crossed() {
		t.Logf("re-run: %v (pcapng kept: %s)", c, c.Pcapng)
	}
	for _, v := range res.TimingFailed() {
		if *timingFlag == "judge" {
			t.Errorf("timing: %s", v)
		} else {
			t.Logf("timing (reported, not judged): %s", v)
		}
	}
	t.Log(describe(res))
	return res
}

// keptDir is the directory this test process keeps failing trials' pcapng files in.
var keptDir = sync.OnceValues(func() (string, error) {
	if *keepFlag != "" {
		return *keepFlag, nil
	}
	return os.MkdirTemp("", "kcplab-failed-")
})

// keep copies a failing trial's pcapng out of the test's temporary directory, into a directory that
// outlives the test, and returns where it went.
func keep(t *testing.T, id, path string) string {
	t.Helper()
	if path == "" {
		return "(none written)"
	}
	dir, err := keptDir()
	dst := filepath.Join(dir, id, filepath.Base(path))
	var data []byte
	if err == nil {
		data, err = os.ReadFile(path)
	}
	if err == nil {
		err = os.MkdirAll(filepath.Dir(dst), 0o755)
	}
	if err == nil {
		err = os.WriteFile(dst, data, 0o644)
	}
	if err != nil {
		t.Errorf("keeping %s: %v", path, err)
		return "(not kept: " + err.Error() + ")"
	}
	return dst
}

func describe(res *harness.Result) string {
	var b strings.Builder
	n := len(res.Trials)
	fmt.Fprintf(&b, "%s: %d trials in %.1fs\n", res.Experiment.ID, n, res.Elapsed.Seconds())
	if k := len(res.TimingTrials); k > 0 {
		fmt.Fprintf(&b, "%d more trials for timing only (stalls had left too few values to judge)\n", k)
	}
	for _, c := range res.Experiment.Classes {
		k := res.Count(c)
		fmt.Fprintf(&b, "class %q: %d/%d (%.0f%%)\n", c.Name, k, n, 100*float64(k)/float64(n))
		if ex := res.Example(c); ex != nil {
			fmt.Fprintf(&b, "  e.g. trial %d, %d accepted session(s):\n", ex.Trial, ex.Trace.Accepts)
			for _, line := range strings.Split(strings.TrimRight(ex.Trace.Ladder(), "\n"), "\n") {
				b.WriteString("    " + line + "\n")
			}
		}
	}
	for _, v := range res.Timing {
		b.WriteString("timing " + v.String() + "\n")
	}
	if load := res.Load().String(); load != "" {
		b.WriteString(load + "\n")
	}
	if res.Experiment.Answer != nil {
		b.WriteString("answer: " + res.Experiment.Answer(res) + "\n")
	}
	return b.String()
}

// TestPhases checks that a check waits for the trials running, and trials that come later wait for the
// check.
func TestPhases(t *testing.T) {
	t.Parallel()
	p := newPhases()
	p.enter(false)
	checked, later := make(chan struct{}), make(chan struct{})
	go func() {
		p.enter(true)
		close(checked)
	}()
	// The check is waiting once it counted itself; later trials then wait too.
	for {
		p.mu.Lock()
		w := p.waiting
		p.mu.Unlock()
		if w == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	go func() {
		p.enter(false)
		close(later)
	}()
	select {
	case <-checked:
		t.Fatal("a check ran while trials were running")
	case <-later:
		t.Fatal("trials started while a check waited")
	case <-time.After(50 * time.Millisecond):
	}
	p.leave(false)
	<-checked
	select {
	case <-later:
		t.Fatal("trials started while a check ran")
	case <-time.After(50 * time.Millisecond):
	}
	p.leave(true)
	<-later
}
