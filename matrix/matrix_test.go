package matrix

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"kcplab/harness"
	"kcplab/internal/kcpgo"
	"kcplab/report"
	"kcplab/versions"
)

// The tests run no other kcp-go release: a fake Builder hands out binaries that do not exist, and a
// fake child (Exec) writes the summary.json files a real `kcplab run` would.

// fakeBuilder builds every version but those it is told fail or are not served.
type fakeBuilder struct {
	broken, unknown map[string]bool
}

func (b *fakeBuilder) Build(_ context.Context, v string) (*versions.Binary, error) {
	switch {
	case b.unknown[v]:
		return nil, fmt.Errorf("kcp-go %s: %w", v, versions.ErrUnknown)
	case b.broken[v]:
		return nil, fmt.Errorf("building kcplab against kcp-go %s: exit status 1", v)
	}
	return &versions.Binary{Version: v, Path: "/fake/" + v + "/kcplab", Cached: true, Tags: []string{"kcpgo_x"}}, nil
}

// exitStatus is a child's exit status other than 0, as *exec.ExitError reports it.
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }
func (e exitStatus) ExitCode() int { return int(e) }

// run is what the fake child of one version does for one experiment: the counts it writes, or
// another exit status.
type run struct {
	classes map[string]int
	failed  []harness.Failure // one failed trial each
	reports string            // the kcp_go it reports (default: the version)
	exit    int               // exit status other than 0 or 1: writes nothing
}

// fakeChild is a `kcplab run` that writes summary.json files as runs says, and records its calls.
type fakeChild struct {
	runs  func(version, id string) run
	mu    sync.Mutex
	calls []string // the version of each call
	args  [][]string
}

func (f *fakeChild) exec(_ context.Context, bin string, args []string, stdout, _ io.Writer) error {
	version := filepath.Base(filepath.Dir(bin))
	f.mu.Lock()
	f.calls = append(f.calls, version)
	f.args = append(f.args, args)
	f.mu.Unlock()
	fmt.Fprintf(stdout, "fake kcplab %s\n", strings.Join(args, " "))
	out := args[slices.Index(args, "-out")+1]
	// The cells to run: -cells (a shard's), else every trial of the ids after -discover.
	var cells []Cell
	if i := slices.Index(args, "-cells"); i >= 0 {
		var err error
		trials, err := strconv.Atoi(args[slices.Index(args, "-trials")+1])
		if err != nil {
			return err
		}
		if cells, err = ParseCells(args[i+1], testExperiments(), trials); err != nil {
			return err
		}
	} else {
		for _, id := range args[slices.Index(args, "-discover")+1:] {
			cells = append(cells, Cell{Experiment: id, Whole: true})
		}
	}
	status := 0
	for _, c := range cells {
		id := c.Experiment
		r := f.runs(version, id)
		if r.exit > 1 {
			return exitStatus(r.exit)
		}
		s := harness.Summary{Experiment: id, KCPGo: version, Classes: map[string]int{}}
		if r.reports != "" {
			s.KCPGo = r.reports
		}
		// Trial n is the n-th of the run's trials: classes in name order, then the failed ones, so
		// that a block of trials holds the same trials in every split.
		var trials []harness.TrialSummary
		for _, class := range slices.Sorted(maps.Keys(r.classes)) {
			s.Classes[class] = 0
			for range r.classes[class] {
				trials = append(trials, harness.TrialSummary{Trial: len(trials) + 1, Class: class})
			}
		}
		for _, fl := range r.failed {
			trials = append(trials, harness.TrialSummary{Trial: len(trials) + 1, Error: "some text " + fl.String(),
				Failures: []harness.Failure{fl}})
		}
		if !c.Whole {
			if c.First+c.Count > len(trials) {
				return fmt.Errorf("cell %s: the fake run has %d trials", c, len(trials))
			}
			trials = trials[c.First : c.First+c.Count]
		}
		for _, tr := range trials {
			s.Trials = append(s.Trials, tr)
			if tr.Error != "" {
				s.Failed++
				status = 1
			} else {
				s.Classes[tr.Class]++
			}
		}
		b, err := json.Marshal(s)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(c.Dir(out), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(c.Dir(out), "summary.json"), b, 0o644); err != nil {
			return err
		}
	}
	if status != 0 {
		return exitStatus(status)
	}
	return nil
}

// testExperiments are two experiments as the matrix sees them: ids, titles and classes.
func testExperiments() []*harness.Experiment {
	return []*harness.Experiment{
		{ID: "p003", Title: "close", Classes: []harness.Class{{Name: "delivered", Description: "all of it."}, {Name: "lost"}}},
		{ID: "p001", Title: "echo", Classes: []harness.Class{{Name: "echoed"}}},
	}
}

// newRunner returns a Runner with the fakes, writing under a temporary directory, and the status
// lines it logs.
func newRunner(t *testing.T, b *fakeBuilder, child *fakeChild) (*Runner, *[]string) {
	t.Helper()
	var logged []string
	r := &Runner{Builder: b, Exec: child.exec, Experiments: testExperiments(), Trials: 7, Parallel: 3, Out: t.TempDir(),
		Log: func(format string, args ...any) { logged = append(logged, fmt.Sprintf(format, args...)) }}
	return r, &logged
}

// TestReadCounts: a summary.json's counts, with its failed trials counted by their failures' fields;
// a missing or broken one is the run's error.
func TestReadCounts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	noClass := []harness.Failure{{Kind: harness.FailNoClass, Tried: []harness.Miss{{Class: "delivered", Step: 3}}}}
	s := harness.Summary{Experiment: "p003", KCPGo: "v5.6.1", Classes: map[string]int{"delivered": 1}, Failed: 3, Seconds: 2.5,
		Trials: []harness.TrialSummary{
			{Trial: 1, Class: "delivered"},
			{Trial: 2, Error: "trial 2 fits no class; actual ladder:\n...", Failures: noClass},
			{Trial: 3, Error: "trial 3 fits no class; actual ladder:\n(other text)", Failures: noClass},
			{Trial: 4, Error: "client role still running after 10s", Failures: []harness.Failure{{Kind: harness.FailRunError, Error: "client role still running after 10s"}}},
		}}
	b, err := json.Marshal(s)
	require.NoError(t, err)
	good := filepath.Join(dir, "summary.json")
	require.NoError(t, os.WriteFile(good, b, 0o644))
	broken := filepath.Join(dir, "broken.json")
	require.NoError(t, os.WriteFile(broken, []byte("{"), 0o644))

	tests := []struct {
		name string
		path string
		want *report.VersionCounts
	}{
		{"counts", good, &report.VersionCounts{KCPGo: "v5.6.1", Trials: 4, Classes: map[string]int{"delivered": 1}, Failed: 3, Seconds: 2.5,
			Summary: good, Failures: map[string]int{`fits no class: not "delivered" at step 3`: 2, "client role still running after 10s": 1}}},
		{"missing", filepath.Join(dir, "none.json"), nil},
		{"broken", broken, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := readCounts(tc.path)
			if tc.want == nil {
				assert.NotEmpty(t, got.Error)
				assert.Contains(t, got.Error, filepath.Base(tc.path))
				assert.Equal(t, tc.path, got.Summary)
				return
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

// TestMatrix runs the matrix over releases that run, fail some trials, do not build, exit with
// another status, or report another version: each is a row, and matrix.json holds them.
func TestMatrix(t *testing.T) {
	t.Parallel()
	lost := harness.Failure{Kind: harness.FailInvariant, Invariant: "one session"}
	child := &fakeChild{runs: func(v, id string) run {
		switch {
		case v == "v5.6.24" && id == "p003":
			return run{classes: map[string]int{"delivered": 3, "lost": 2}, failed: []harness.Failure{lost, lost}}
		case v == "v5.7.6":
			return run{exit: 2}
		case v == "v5.6.1" && id == "p001":
			return run{classes: map[string]int{"echoed": 5}, reports: "v5.6.2"}
		case id == "p001":
			return run{classes: map[string]int{"echoed": 5}}
		}
		return run{classes: map[string]int{"delivered": 5, "lost": 0}}
	}}
	r, logged := newRunner(t, &fakeBuilder{broken: map[string]bool{"v5.6.72": true}}, child)
	steps := 0
	r.Step = func(_ string, done bool) {
		if done {
			steps++
		}
	}
	vs := []string{"v5.4.20+incompatible", "v5.6.1", "v5.6.24", "v5.6.72", "v5.7.6"}
	mx, err := r.Matrix(context.Background(), vs)
	require.NoError(t, err)

	assert.Equal(t, vs, mx.Versions)
	assert.Equal(t, 7, mx.Trials)
	require.Len(t, mx.Experiments, 2)
	p003, p001 := mx.Experiments[0], mx.Experiments[1]
	assert.Equal(t, []string{"delivered", "lost"}, p003.Classes)
	assert.Equal(t, map[string]string{"delivered": "all of it.", "lost": ""}, p003.Descriptions)
	assert.Equal(t, map[string]int{"delivered": 5, "lost": 0}, p003.Versions["v5.4.20+incompatible"].Classes)
	assert.Equal(t, `summary.json reports kcp-go v5.6.2, not v5.6.1`, p001.Versions["v5.6.1"].Error)
	failing := p003.Versions["v5.6.24"]
	assert.Equal(t, 2, failing.Failed)
	assert.Equal(t, map[string]int{`invariant "one session" broken`: 2}, failing.Failures)
	assert.Empty(t, failing.Error, "exit status 1 is a run with failed trials")
	assert.Contains(t, p003.Versions["v5.6.72"].Error, "building kcplab against kcp-go v5.6.72")
	assert.Contains(t, p001.Versions["v5.7.6"].Error, "exit status 2")
	assert.Contains(t, p001.Versions["v5.7.6"].Error, "run.log")

	assert.Equal(t, []string{"v5.4.20+incompatible", "v5.6.1", "v5.6.24", "v5.7.6"}, child.calls, "one child per release that built")
	assert.Equal(t, []string{"run", "-trials", "7", "-parallel", "3", "-out", filepath.Join(r.Out, "v5.6.1"), "-discover", "p003", "p001"}, child.args[1])
	assert.Equal(t, 2*3+1, steps, "build and run of each release that ran, the build of the one that exited 2")
	log, err := os.ReadFile(filepath.Join(r.Out, "v5.6.1", "run.log"))
	require.NoError(t, err)
	assert.Contains(t, string(log), "fake kcplab run -trials 7")
	assert.Contains(t, strings.Join(*logged, ""), "kcp-go v5.6.1: kcplab cached in ")
	assert.Contains(t, strings.Join(*logged, ""), "(/fake/v5.6.1/kcplab, tags kcpgo_x)")
	assert.Contains(t, strings.Join(*logged, ""), "kcp-go v5.6.72: building kcplab against kcp-go v5.6.72")

	read, err := report.ReadMatrix(r.MatrixPath())
	require.NoError(t, err)
	assert.Equal(t, mx, read)
	assert.Equal(t, 2+5, mx.Failed(), "two failed trials; five runs without counts")
}

// TestMatrixStops: a release the Go module proxy does not serve, or a cancelled context, ends the
// matrix with the error instead of a row.
func TestMatrixStops(t *testing.T) {
	t.Parallel()
	ok := func(string, string) run { return run{classes: map[string]int{"delivered": 1}} }
	t.Run("unknown release", func(t *testing.T) {
		t.Parallel()
		r, _ := newRunner(t, &fakeBuilder{unknown: map[string]bool{"v5.6.2": true}}, &fakeChild{runs: ok})
		_, err := r.Matrix(context.Background(), []string{"v5.6.1", "v5.6.2"})
		assert.ErrorIs(t, err, versions.ErrUnknown)
	})
	t.Run("cancelled", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		child := &fakeChild{runs: ok}
		r, _ := newRunner(t, &fakeBuilder{}, child)
		r.Exec = func(context.Context, string, []string, io.Writer, io.Writer) error {
			cancel()
			return errors.New("signal: killed")
		}
		_, err := r.Matrix(ctx, []string{"v5.6.1", "v5.6.2"})
		assert.ErrorIs(t, err, context.Canceled)
	})
}

// TestBisect finds the release where a class's share changes, running each release once, skipping
// one the proxy does not serve, and says so when the ends do not differ.
func TestBisect(t *testing.T) {
	t.Parallel()
	rel := []string{"v5.6.1", "v5.6.2", "v5.6.3", "v5.6.4", "v5.6.5", "v5.6.6", "v5.6.7", "v5.6.8", "v5.6.9", "v5.6.10"}
	tests := []struct {
		name    string
		class   string
		change  string // the first release with the new share ("": none)
		unknown string
		want    Bisection
		line    string // the first release's share, as logged
	}{
		{"a class", "delivered", "v5.6.4", "", Bisection{Changed: true, Before: "v5.6.3", First: "v5.6.4"}, " 20/20  100.0% (95%: 84–100%)"},
		{"failed trials", report.FailedClass, "v5.6.9", "", Bisection{Changed: true, Before: "v5.6.8", First: "v5.6.9"}, "  0/20    0.0% (95%: 0–16%)"},
		{"over a release not served", "delivered", "v5.6.6", "v5.6.5", Bisection{Changed: true, Before: "v5.6.4", First: "v5.6.6"}, " 20/20  100.0% (95%: 84–100%)"},
		{"no change", "delivered", "", "", Bisection{}, " 20/20  100.0% (95%: 84–100%)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			child := &fakeChild{runs: func(v, _ string) run {
				if tc.change != "" && versions.Compare(v, tc.change) >= 0 {
					f := harness.Failure{Kind: harness.FailRunError, Error: "boom"}
					return run{classes: map[string]int{"lost": 10}, failed: []harness.Failure{f, f, f, f, f, f, f, f, f, f}}
				}
				return run{classes: map[string]int{"delivered": 20}}
			}}
			r, logged := newRunner(t, &fakeBuilder{unknown: map[string]bool{tc.unknown: true}}, child)
			r.Experiments = r.Experiments[:1]
			got, err := r.Bisect(context.Background(), "p003", tc.class, rel, 1)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			assert.LessOrEqual(t, len(child.calls), BisectRuns(len(rel)))
			seen := map[string]bool{}
			for _, v := range child.calls {
				assert.False(t, seen[v], "%s ran twice", v)
				seen[v] = true
			}
			all := strings.Join(*logged, "")
			assert.Contains(t, all, fmt.Sprintf("  %-22s %s\n", "v5.6.1", tc.line))
			if tc.unknown != "" {
				assert.Contains(t, all, fmt.Sprintf("  %-22s not served by the Go module proxy: skipped\n", tc.unknown))
			}
		})
	}
	t.Run("a run without counts", func(t *testing.T) {
		t.Parallel()
		r, _ := newRunner(t, &fakeBuilder{}, &fakeChild{runs: func(string, string) run { return run{exit: 3} }})
		_, err := r.Bisect(context.Background(), "p003", "delivered", rel, 1)
		assert.ErrorContains(t, err, "exit status 3")
	})
}

// TestBisectOverRuns: a class whose share scatters from run to run (10, 70 and 30 of 200; at v5.6.5,
// which the search asks first, 70, 60 and 30) until the change at v5.6.8 (180 to 190). One run a
// release takes the scatter for a change, and so would Fisher's test on each release's three runs
// pooled (110 against 160 of 600: p < 0.001); three runs a release, tested over runs, find v5.6.8,
// each release run three times, each run under its own directory.
func TestBisectOverRuns(t *testing.T) {
	t.Parallel()
	rel := []string{"v5.6.1", "v5.6.2", "v5.6.3", "v5.6.4", "v5.6.5", "v5.6.6", "v5.6.7", "v5.6.8", "v5.6.9", "v5.6.10"}
	for _, tc := range []struct {
		runs      int
		first     string // "": any release but v5.6.8
		firstLine string
	}{
		{1, "", "  v5.6.1                  10/200   5.0% (95%: 3–9%)\n"},
		{3, "v5.6.8", "  v5.6.1                 110/600  18.3% (95%: 15–22%), runs: 10 70 30\n"},
	} {
		t.Run(fmt.Sprintf("%d runs", tc.runs), func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			calls := map[string]int{}
			child := &fakeChild{runs: func(v, _ string) run {
				mu.Lock()
				i := calls[v]
				calls[v]++
				mu.Unlock()
				lost := []int{10, 70, 30}[i%3]
				switch {
				case versions.Compare(v, "v5.6.8") >= 0:
					lost = []int{180, 190, 185}[i%3]
				case v == "v5.6.5":
					lost = []int{70, 60, 30}[i%3]
				}
				return run{classes: map[string]int{"delivered": 200 - lost, "lost": lost}}
			}}
			r, logged := newRunner(t, &fakeBuilder{}, child)
			r.Experiments = r.Experiments[:1]
			got, err := r.Bisect(context.Background(), "p003", "lost", rel, tc.runs)
			require.NoError(t, err)
			require.True(t, got.Changed)
			if tc.first != "" {
				assert.Equal(t, Bisection{Changed: true, Before: "v5.6.7", First: tc.first}, got)
			} else {
				assert.NotEqual(t, "v5.6.8", got.First, "one run a release is fooled by the scatter")
			}
			for v, n := range calls {
				assert.Equal(t, tc.runs, n, "%s runs", v)
			}
			assert.Contains(t, strings.Join(*logged, ""), tc.firstLine)
			if tc.runs > 1 {
				_, err := os.Stat(filepath.Join(r.Out, "run-3", "v5.6.1", "p003", "summary.json"))
				assert.NoError(t, err, "the third run has a directory of its own")
			}
		})
	}
}

// TestSearch: the binary search asks about O(log n) releases wherever the change is, and leaves out
// a release that is not served.
func TestSearch(t *testing.T) {
	t.Parallel()
	rel := []string{"v5.6.1", "v5.6.2", "v5.6.3", "v5.6.4", "v5.6.5", "v5.6.6", "v5.6.7", "v5.6.8", "v5.6.9", "v5.6.10"}
	for change := 1; change < len(rel); change++ {
		t.Run(rel[change], func(t *testing.T) {
			t.Parallel()
			asked := 0
			var skipped []string
			before, first, err := search(rel, func(v string) (bool, error) {
				asked++
				if v == "v5.6.6" {
					return false, fmt.Errorf("kcp-go %s: %w", v, versions.ErrUnknown)
				}
				return versions.Compare(v, rel[change]) >= 0, nil
			}, func(v string) { skipped = append(skipped, v) })
			require.NoError(t, err)
			want, wantBefore := rel[change], rel[change-1]
			if want == "v5.6.6" { // not served: the change shows at the next release
				want = "v5.6.7"
			}
			if wantBefore == "v5.6.6" {
				wantBefore = "v5.6.5"
			}
			assert.Equal(t, want, first)
			assert.Equal(t, wantBefore, before)
			assert.LessOrEqual(t, asked, 5)
			for _, s := range skipped {
				assert.Equal(t, "v5.6.6", s)
			}
		})
	}
	_, _, err := search(rel, func(string) (bool, error) { return false, errors.New("boom") }, func(string) {})
	assert.EqualError(t, err, "boom")
}

// TestCrossTalk runs a release's crosstalk measure through the child and reads its JSON.
func TestCrossTalk(t *testing.T) {
	t.Parallel()
	var args []string
	r := &Runner{Builder: &fakeBuilder{}, Exec: func(_ context.Context, _ string, a []string, stdout, _ io.Writer) error {
		args = a
		if slices.Contains(a, "-closers=13") {
			return exitStatus(2)
		}
		return json.NewEncoder(stdout).Encode(kcpgo.CrossTalkResult{KCPGo: "v5.7.6", Sessions: 9, Sent: 100, Foreign: 1})
	}}
	o := kcpgo.CrossTalkOptions{Duration: 3 * time.Second, Closers: 2, Steady: 1, BurstBytes: 500}
	res, err := r.CrossTalk(context.Background(), "v5.7.6", o, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, kcpgo.CrossTalkResult{KCPGo: "v5.7.6", Sessions: 9, Sent: 100, Foreign: 1}, res)
	assert.Equal(t, []string{"crosstalk", "-json", "-seconds=3", "-closers=2", "-steady=1", "-burst=500"}, args)
	o.Closers = 13
	_, err = r.CrossTalk(context.Background(), "v5.7.6", o, io.Discard)
	assert.ErrorContains(t, err, "kcp-go v5.7.6: /fake/v5.7.6/kcplab crosstalk: exit status 2")
}
