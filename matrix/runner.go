// Package matrix runs experiments against kcp-go releases: it builds kcplab against each release
// (versions.Builder), runs the experiments in that binary as a child process, reads back each run's
// summary.json into a report.Matrix, runs pairs of releases (a server's and a client's peer
// process), and bisects the releases between two versions for a change in a class's share.
// Rendering is report's; flags and printing are cmd/kcplab's.
package matrix

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"kcplab/harness"
	"kcplab/peer"
	"kcplab/report"
	"kcplab/versions"
)

// Builder builds kcplab against a kcp-go release: a *versions.Builder, or a fake in tests.
type Builder interface {
	Build(ctx context.Context, version string) (*versions.Binary, error)
}

// Exec runs the program bin with args, its output to stdout and stderr, until it ends. An exit
// status other than 0 is an error with an ExitCode method (*exec.ExitError).
type Exec func(ctx context.Context, bin string, args []string, stdout, stderr io.Writer) error

// Runner runs experiments in kcplab binaries built against kcp-go releases, one child process per
// release (and, for pairs, one peer process per release).
type Runner struct {
	Builder Builder
	// Exec runs a release's kcplab (nil: os/exec). Tests give a fake that writes summary.json.
	Exec Exec
	// StartPeer starts a peer's command (`BIN peer` for a kcp-go version) for Pairs (nil:
	// peer.StartPeer). Tests give peers in this process, or shorter bounds on the hello.
	StartPeer func(cmd *exec.Cmd) (*peer.Peer, error)

	Experiments      []*harness.Experiment // what to run, one id each
	Trials, Parallel int                   // per experiment and release (Trials 0: each experiment's default)
	Out              string                // DIR: DIR/VERSION/ID/summary.json, DIR/matrix.json, DIR/pairs/
	// Shard, when split, runs only this shard's cells (shard.go) and writes OUT/part.json beside
	// OUT/matrix.json, for kcplab merge; Block is the trials per cell (0: an experiment's trials in
	// one cell). Seed is the link seed of every version's run (0: random; for a split run, one
	// derived from the settings, so that every shard draws the same).
	Shard Shard
	Block int
	Seed  uint64
	// Across keeps, of Pairs, only those with a peer that is not kcp-go: kcp-go against another
	// implementation, both ways, and each other implementation against itself.
	Across bool
	// Verbose also receives each release's run output (always in DIR/VERSION/run.log); nil: none.
	Verbose io.Writer
	// Log receives the status lines (a release built, a run done); nil: none.
	Log func(format string, args ...any)
	// Step is told the step now running, after the previous one finished when done (two steps per
	// release: build, run); nil: none.
	Step func(desc string, done bool)

	// runs caches the counts of a release already run (bisect asks for some twice).
	runs map[string]map[string]*report.VersionCounts
}

func (r *Runner) logf(format string, args ...any) {
	if r.Log != nil {
		r.Log(format, args...)
	}
}

func (r *Runner) step(desc string, done bool) {
	if r.Step != nil {
		r.Step(desc, done)
	}
}

func (r *Runner) exec(ctx context.Context, bin string, args []string, stdout, stderr io.Writer) error {
	if r.Exec != nil {
		return r.Exec(ctx, bin, args, stdout, stderr)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	return cmd.Run()
}

// ids are the experiments' ids, in order.
func (r *Runner) ids() []string {
	out := make([]string, len(r.Experiments))
	for i, e := range r.Experiments {
		out[i] = e.ID
	}
	return out
}

// exitCode is the exit status an Exec error carries, or -1.
func exitCode(err error) int {
	var ec interface{ ExitCode() int }
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	return -1
}

// Run builds kcplab against version and runs the experiments with it: `BIN run -trials N -parallel P
// -out OUT/VERSION -discover IDs...` (VERSION: versions.FileName), its output in OUT/VERSION/run.log.
// It returns the counts by experiment id; an experiment whose summary.json is missing, broken or
// names another kcp-go than the binary's has that as its Error. A
// release that is not served wraps versions.ErrUnknown.
func (r *Runner) Run(ctx context.Context, version string) (map[string]*report.VersionCounts, error) {
	if res, ok := r.runs[version]; ok {
		return res, nil
	}
	return r.run(ctx, version, nil)
}

// run runs the experiments with version, or only cells when not nil (`run -seed S -cells LIST`):
// then an experiment's counts are those of its cells summed, and it has none without cells.
func (r *Runner) run(ctx context.Context, version string, cells []Cell) (map[string]*report.VersionCounts, error) {
	ids := strings.Join(r.ids(), " ")
	if cells != nil {
		ids = cellList(cells)
	}
	start := time.Now()
	r.step("kcp-go "+version+": building kcplab", false)
	bin, err := r.Builder.Build(ctx, version)
	if err != nil {
		return nil, err
	}
	how := "built"
	if bin.Cached {
		how = "cached"
	}
	tags := ""
	if len(bin.Tags) > 0 {
		tags = ", tags " + strings.Join(bin.Tags, ",")
	}
	r.logf("kcp-go %s: kcplab %s in %.1fs (%s%s)\n", version, how, time.Since(start).Seconds(), bin.Path, tags)
	r.step("kcp-go "+version+": running "+ids, true)

	dir := filepath.Join(r.Out, versions.FileName(version))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	// The binary is built from these sources (versions.SourceHash), so it has every flag of run.
	args := []string{"run", "-trials", fmt.Sprint(r.Trials), "-parallel", fmt.Sprint(r.Parallel), "-out", dir, "-discover"}
	if r.Seed != 0 {
		args = append(args, "-seed", fmt.Sprint(r.Seed))
	}
	if cells != nil {
		args = append(args, "-cells", cellList(cells))
	} else {
		args = append(args, r.ids()...)
	}
	logPath := filepath.Join(dir, "run.log")
	log, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	var out io.Writer = log
	if r.Verbose != nil {
		out = io.MultiWriter(log, r.Verbose)
	}
	start = time.Now()
	runErr := r.exec(ctx, bin.Path, args, out, out)
	elapsed := time.Since(start)
	switch {
	case runErr == nil, exitCode(runErr) == 1: // 1: some trial failed
	case ctx.Err() != nil:
		return nil, ctx.Err()
	default:
		return nil, fmt.Errorf("kcp-go %s: %s %s: %v (output in %s)", version, bin.Path, strings.Join(args, " "), runErr, logPath)
	}
	res := map[string]*report.VersionCounts{}
	if cells != nil {
		res = cellCounts(dir, cells)
	} else {
		for _, e := range r.Experiments {
			res[e.ID] = readCounts(filepath.Join(dir, e.ID, "summary.json"))
		}
	}
	for _, vc := range res {
		if vc.Error == "" && vc.KCPGo != bin.Name() {
			vc.Error = fmt.Sprintf("summary.json reports kcp-go %s, not %s", vc.KCPGo, bin.Name())
		}
	}
	r.logf("kcp-go %s: ran %s in %.1fs; output in %s\n", version, ids, elapsed.Seconds(), logPath)
	r.step("", true)
	if cells != nil {
		return res, nil // a shard's counts are not the version's: not kept for Run
	}
	if r.runs == nil {
		r.runs = map[string]map[string]*report.VersionCounts{}
	}
	r.runs[version] = res
	return res, nil
}

// readCounts reads one run's summary.json; a missing or broken one is recorded as the error. Failed
// trials count together by their failures' fields (harness.FailureKey).
func readCounts(path string) *report.VersionCounts {
	b, err := os.ReadFile(path)
	if err != nil {
		return &report.VersionCounts{Error: err.Error(), Summary: path}
	}
	var s harness.Summary
	if err := json.Unmarshal(b, &s); err != nil {
		return &report.VersionCounts{Error: fmt.Sprintf("%s: %v", path, err), Summary: path}
	}
	return report.CountsOf(&s, path)
}

// Matrix runs the experiments with every release of vs (oldest first) and writes OUT/matrix.json. A
// release that does not build or run is a result too: its runs record the error. It stops at a
// release that is not served (versions.ErrUnknown) and when ctx ends.
func (r *Runner) Matrix(ctx context.Context, vs []string) (*report.Matrix, error) {
	mx := &report.Matrix{Versions: vs, Trials: r.Trials}
	for _, e := range r.Experiments {
		mx.Experiments = append(mx.Experiments, report.ExperimentOf(e))
	}
	var part *Part
	if r.Shard.Split() {
		var err error
		if part, err = r.newPart(vs); err != nil {
			return nil, err
		}
	}
	for _, v := range vs {
		var res map[string]*report.VersionCounts
		var err error
		if part == nil {
			res, err = r.Run(ctx, v)
		} else if cells := cellsOf(part.Cells, v); len(cells) > 0 {
			res, err = r.run(ctx, v, cells)
		} else {
			continue // none of this shard's cells has v
		}
		if err != nil {
			if errors.Is(err, versions.ErrUnknown) || ctx.Err() != nil {
				return nil, err
			}
			r.logf("kcp-go %s: %v\n", v, err)
			res = map[string]*report.VersionCounts{}
			for _, e := range r.Experiments {
				if part == nil || slices.ContainsFunc(cellsOf(part.Cells, v), func(c Cell) bool { return c.Experiment == e.ID }) {
					res[e.ID] = &report.VersionCounts{Error: err.Error()}
				}
			}
		}
		for i := range mx.Experiments {
			if vc := res[mx.Experiments[i].ID]; vc != nil || part == nil {
				mx.Experiments[i].Versions[v] = vc
			}
		}
	}
	if part != nil {
		return mx, part.Write(r.Out, mx)
	}
	if err := os.MkdirAll(r.Out, 0o755); err != nil {
		return nil, err
	}
	return mx, report.WriteMatrix(r.MatrixPath(), mx)
}

// newPart is the record of this shard of a split matrix of versions vs: its settings and cells.
func (r *Runner) newPart(vs []string) (*Part, error) {
	settings := Settings{Command: "matrix", Experiments: r.ids(), Versions: vs, Trials: r.Trials, Block: r.Block,
		Parallel: r.Parallel, Discover: true}
	if r.Seed == 0 {
		r.Seed = SplitSeed(settings)
	}
	settings.Seed = r.Seed
	return NewPart(r.Shard, settings, Cells(r.Experiments, vs, r.Trials, r.Block))
}

// MatrixPath is where Matrix writes matrix.json.
func (r *Runner) MatrixPath() string { return filepath.Join(r.Out, "matrix.json") }
