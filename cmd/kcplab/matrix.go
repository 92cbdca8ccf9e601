package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"kcplab/experiments"
	"kcplab/harness"
	"kcplab/report"
	"kcplab/versions"
)

// matrixRunner builds kcplab against kcp-go releases and runs experiments with each, one process per
// release.
type matrixRunner struct {
	builder          *versions.Builder
	trials, parallel int
	out              string
	ids              []string
	stdout           io.Writer
	verbose          bool
	// runs caches the counts of a version already run (bisect asks for some twice).
	runs map[string]map[string]*report.VersionCounts
	bar  *progressbar.ProgressBar // two steps per version (build, run) when stderr is a terminal; nil otherwise
}

// progress starts a progress bar of steps on stderr when it is a terminal.
func (m *matrixRunner) progress(stderr io.Writer, steps int) {
	f, ok := stderr.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return
	}
	m.bar = progressbar.NewOptions(steps, progressbar.OptionSetWriter(stderr), progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(false), progressbar.OptionClearOnFinish(), progressbar.OptionFullWidth())
}

// step describes the step now running, after finishing the previous one (done).
func (m *matrixRunner) step(desc string, done bool) {
	if m.bar == nil {
		return
	}
	if done {
		_ = m.bar.Add(1)
	}
	m.bar.Describe(desc)
}

// printf prints a status line, clearing the progress bar first.
func (m *matrixRunner) printf(format string, args ...any) {
	if m.bar != nil {
		_ = m.bar.Clear()
	}
	fmt.Fprintf(m.stdout, format, args...)
}

// Unwrap gives errors.Is and errors.As the error an exit status carries.
func (e *exitError) Unwrap() error { return e.err }

// projectRoot finds the kcplab source tree (the go.mod declaring module kcplab) from the working
// directory up.
func projectRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(bytes.TrimSpace(b), []byte("module kcplab\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", usageErr("run it inside the kcplab source tree: it builds kcplab against each kcp-go release (no go.mod of module kcplab above the working directory)")
		}
		dir = parent
	}
}

// parseVersions turns a comma- or space-separated list into normalized versions, oldest first,
// downloading each (from the module cache when it is there) so that a release the Go module proxy
// does not serve is bad input before anything runs.
func parseVersions(ctx context.Context, b *versions.Builder, list string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for _, s := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' }) {
		v, err := versions.Normalize(s)
		if err != nil {
			return nil, usageErr("-versions: %v", err)
		}
		// Even a release of the compiled-in list may be missing from the proxy (v5.6.6, v5.6.23).
		if _, err := b.Download(ctx, v); err != nil {
			if errors.Is(err, versions.ErrUnknown) {
				return nil, usageErr("-versions: %v", err)
			}
			return nil, err
		}
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		return nil, usageErr("-versions: no version given")
	}
	sort.SliceStable(out, func(i, j int) bool { return versions.Compare(out[i], out[j]) < 0 })
	return out, nil
}

// experimentIDs validates ids (all experiments when none is given).
func experimentIDs(ids []string) ([]string, error) {
	if len(ids) == 0 {
		for _, e := range experiments.All() {
			ids = append(ids, e.ID)
		}
		return ids, nil
	}
	var out []string
	for _, id := range ids {
		es, err := experiments.Select(id) // an experiment with several links is one id per link
		if err != nil {
			return nil, usageErr("%v", err)
		}
		for _, e := range es {
			out = append(out, e.ID)
		}
	}
	return out, nil
}

// supportsFlag reports whether the binary's `run` command has flag name (from `BIN run -h`).
func supportsFlag(ctx context.Context, bin, name string) bool {
	out, _ := exec.CommandContext(ctx, bin, "run", "-h").CombinedOutput()
	return bytes.Contains(out, []byte("\n  -"+name+" ")) || bytes.Contains(out, []byte("\n  -"+name+"\n"))
}

// run builds kcplab against version and runs the experiments with it: `BIN run -trials N -parallel P
// -out OUT/VERSION IDs...`, the output in OUT/VERSION/run.log. It returns the counts by experiment.
func (m *matrixRunner) run(ctx context.Context, version string) (map[string]*report.VersionCounts, error) {
	if r, ok := m.runs[version]; ok {
		return r, nil
	}
	start := time.Now()
	m.step("kcp-go "+version+": building kcplab", false)
	bin, err := m.builder.Build(ctx, version)
	if err != nil {
		if errors.Is(err, versions.ErrUnknown) {
			return nil, &exitError{code: 2, err: err}
		}
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
	m.printf("kcp-go %s: kcplab %s in %.1fs (%s%s)\n", version, how, time.Since(start).Seconds(), bin.Path, tags)
	m.step("kcp-go "+version+": running "+strings.Join(m.ids, " "), true)

	dir := filepath.Join(m.out, version)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	args := []string{"run", "-trials", fmt.Sprint(m.trials), "-parallel", fmt.Sprint(m.parallel), "-out", dir}
	if supportsFlag(ctx, bin.Path, "discover") {
		args = append(args, "-discover")
	}
	args = append(args, m.ids...)
	logPath := filepath.Join(dir, "run.log")
	log, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	cmd := exec.CommandContext(ctx, bin.Path, args...)
	cmd.Stdout, cmd.Stderr = log, log
	if m.verbose {
		cmd.Stdout, cmd.Stderr = io.MultiWriter(log, m.stdout), io.MultiWriter(log, m.stdout)
	}
	start = time.Now()
	runErr := cmd.Run()
	elapsed := time.Since(start)
	var exit *exec.ExitError
	switch {
	case runErr == nil, errors.As(runErr, &exit) && exit.ExitCode() == 1: // 1: some trial failed
	case ctx.Err() != nil:
		return nil, ctx.Err()
	default:
		return nil, fmt.Errorf("kcp-go %s: %s %s: %v (output in %s)", version, bin.Path, strings.Join(args, " "), runErr, logPath)
	}
	res := map[string]*report.VersionCounts{}
	for _, id := range m.ids {
		res[id] = readCounts(filepath.Join(dir, id, "summary.json"))
	}
	m.printf("kcp-go %s: ran %s in %.1fs; output in %s\n", version, strings.Join(m.ids, " "), elapsed.Seconds(), logPath)
	m.step("", true)
	if m.runs == nil {
		m.runs = map[string]map[string]*report.VersionCounts{}
	}
	m.runs[version] = res
	return res, nil
}

// readCounts reads one run's summary.json; a missing or broken one is recorded as the error.
func readCounts(path string) *report.VersionCounts {
	b, err := os.ReadFile(path)
	if err != nil {
		return &report.VersionCounts{Error: err.Error(), Summary: path}
	}
	var s harness.Summary
	if err := json.Unmarshal(b, &s); err != nil {
		return &report.VersionCounts{Error: fmt.Sprintf("%s: %v", path, err), Summary: path}
	}
	vc := &report.VersionCounts{KCPGo: s.KCPGo, Trials: len(s.Trials), Classes: s.Classes, Failed: s.Failed,
		Seconds: s.Seconds, Summary: path}
	for _, t := range s.Trials {
		if t.Error == "" {
			continue
		}
		if vc.Failures == nil {
			vc.Failures = map[string]int{}
		}
		vc.Failures[failureKey(t.Error)]++
	}
	return vc
}

var (
	trialPrefix = regexp.MustCompile(`^trial \d+ `)
	ladderTime  = regexp.MustCompile(`^\s*[0-9.]+m?s\s+`)
)

// failureKey condenses a failed trial's error so that failures of one kind count together: the
// first line without the trial number and, when the trial fit no class, its actual ladder without
// times ("fits no class; actual ladder: c→s PUSH sn=0 una=0 len=9 / c→s PUSH ...").
func failureKey(e string) string {
	lines := strings.Split(e, "\n")
	key := trialPrefix.ReplaceAllString(lines[0], "")
	if !strings.HasSuffix(key, "actual ladder:") {
		return key
	}
	var steps []string
	for _, l := range lines[1:] {
		if !ladderTime.MatchString(l) {
			break
		}
		steps = append(steps, strings.TrimSpace(ladderTime.ReplaceAllString(l, "")))
	}
	return key + " " + strings.Join(steps, " / ")
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// newMatrixRunner registers the flags shared by matrix and bisect.
func newMatrixRunner(fs interface {
	IntVar(*int, string, int, string)
	StringVar(*string, string, string, string)
	BoolVar(*bool, string, bool, string)
}, stdout io.Writer, defaultOut string) *matrixRunner {
	m := &matrixRunner{stdout: stdout, builder: &versions.Builder{}}
	fs.IntVar(&m.trials, "trials", 0, "trials per experiment and version (0: each experiment's default)")
	fs.IntVar(&m.parallel, "parallel", harness.DefaultParallel, "trials running at once (in each version's process)")
	fs.StringVar(&m.out, "out", defaultOut, "directory for DIR/VERSION/ID/summary.json and trial-NNN.pcapng")
	fs.StringVar(&m.builder.CacheDir, "cache", "", "where the per-version binaries are kept (default: the user cache dir's kcplab/)")
	fs.BoolVar(&m.verbose, "v", false, "show each version's run output (always in DIR/VERSION/run.log)")
	return m
}

func (m *matrixRunner) check() error {
	if m.trials < 0 || m.trials > 100000 {
		return usageErr("-trials %d: want 0..100000", m.trials)
	}
	if m.parallel < 1 || m.parallel > 64 {
		return usageErr("-parallel %d: want 1..64", m.parallel)
	}
	root, err := projectRoot()
	if err != nil {
		return err
	}
	m.builder.Root = root
	return nil
}

func runMatrix(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("matrix", stderr)
	m := newMatrixRunner(fs, stdout, filepath.Join("out", "matrix"))
	list := fs.String("versions", strings.Join(versions.Defaults, ","), "kcp-go versions, comma-separated (seed = "+versions.SeedVersion+"; any release the Go module proxy serves)")
	results := fs.String("results", "", "also write the matrix section into this RESULTS.md, with one chart per experiment beside it under charts/")
	pairs := fs.Bool("pairs", false, "run each experiment (default: "+strings.Join(DefaultPairIDs, " ")+") with the server on one release and the client on another, over every pair, each role in a `kcplab peer` process; writes DIR/pairs/")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := m.check(); err != nil {
		return err
	}
	if *pairs && len(pos) == 0 {
		pos = DefaultPairIDs
	}
	if *pairs && m.trials == 0 {
		m.trials = DefaultPairTrials
	}
	ids, err := experimentIDs(pos)
	if err != nil {
		return err
	}
	m.ids = ids
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	vs, err := parseVersions(ctx, m.builder, *list)
	if err != nil {
		return err
	}
	if *pairs {
		start := time.Now()
		mx, err := m.runPairs(ctx, vs)
		if err != nil {
			return err
		}
		printPairs(stdout, mx, vs)
		failed := 0
		for _, e := range mx.Experiments {
			for _, vc := range e.Versions {
				failed += vc.Failed
				if vc.Error != "" {
					failed++
				}
			}
		}
		fmt.Fprintf(stdout, "%d pair(s) of %d version(s) in %.0fs; wrote %s and pairs.md\n", len(mx.Versions), len(vs), time.Since(start).Seconds(), filepath.Join(m.out, "pairs", "pairs.json"))
		if *results != "" {
			if err := writePairsResults(*results, mx, vs); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "wrote the pairs section of %s\n", *results)
		}
		if failed > 0 {
			return failErr("%d trial(s) or run(s) failed", failed)
		}
		return nil
	}
	m.progress(stderr, 2*len(vs))
	mx := &report.Matrix{Versions: vs, Trials: m.trials}
	for _, id := range ids {
		es, _ := experiments.Select(id) // experimentIDs checked it: one experiment
		e := es[0]
		me := report.MatrixExperiment{ID: id, Title: e.Title, Descriptions: map[string]string{}, Versions: map[string]*report.VersionCounts{}}
		for _, c := range e.Classes {
			me.Classes = append(me.Classes, c.Name)
			me.Descriptions[c.Name] = c.Description
		}
		mx.Experiments = append(mx.Experiments, me)
	}
	start := time.Now()
	for _, v := range vs {
		res, err := m.run(ctx, v)
		if err != nil {
			var ee *exitError
			if errors.As(err, &ee) || ctx.Err() != nil {
				return err
			}
			// A release that does not build or run is a result too: record it, go on.
			fmt.Fprintf(stdout, "kcp-go %s: %v\n", v, err)
			res = map[string]*report.VersionCounts{}
			for _, id := range ids {
				res[id] = &report.VersionCounts{Error: err.Error()}
			}
		}
		for i := range mx.Experiments {
			vc := res[mx.Experiments[i].ID]
			if vc.Error == "" && vc.KCPGo != v {
				vc.Error = fmt.Sprintf("summary.json reports kcp-go %s, not %s", vc.KCPGo, v)
			}
			mx.Experiments[i].Versions[v] = vc
		}
	}
	if err := os.MkdirAll(m.out, 0o755); err != nil {
		return err
	}
	path := filepath.Join(m.out, "matrix.json")
	if err := report.WriteMatrix(path, mx); err != nil {
		return err
	}
	if m.bar != nil {
		_ = m.bar.Finish()
	}
	printMatrix(stdout, mx)
	if _, err := report.Charts(mx, filepath.Join(m.out, "charts"), m.out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d version(s) in %.0fs; wrote %s and charts under %s\n", len(vs), time.Since(start).Seconds(), path, filepath.Join(m.out, "charts"))
	if *results != "" {
		if err := writeMatrixResults(*results, mx); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote the matrix section of %s\n", *results)
	}
	return nil
}

// writeMatrixResults writes the matrix section into the RESULTS.md at path (the generated block
// "matrix") and its charts under charts/ beside it.
func writeMatrixResults(path string, mx *report.Matrix) error {
	dir := filepath.Dir(path)
	charts, err := report.Charts(mx, filepath.Join(dir, "charts"), dir)
	if err != nil {
		return err
	}
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	doc := report.Update(old, []string{"matrix"}, map[string]string{"matrix": report.MatrixSection(mx, charts)},
		func(string) string { return "## kcp-go versions" })
	return os.WriteFile(path, doc, 0o644)
}

// printMatrix prints, per experiment, a table of versions by classes, then the differences.
func printMatrix(w io.Writer, mx *report.Matrix) {
	for i := range mx.Experiments {
		e := &mx.Experiments[i]
		fmt.Fprintf(w, "\n%s: %s\n", e.ID, e.Title)
		cols := append(append([]string(nil), e.Classes...), "failed")
		width := len("v5.4.20+incompatible")
		fmt.Fprintf(w, "  %-*s %6s", width, "kcp-go", "trials")
		for _, c := range cols {
			fmt.Fprintf(w, "  %s", c)
		}
		fmt.Fprintln(w)
		for _, v := range mx.Versions {
			vc := e.Versions[v]
			if vc == nil {
				continue
			}
			if vc.Error != "" {
				fmt.Fprintf(w, "  %-*s  error: %s\n", width, v, firstLine(vc.Error))
				continue
			}
			fmt.Fprintf(w, "  %-*s %6d", width, v, vc.Trials)
			for _, c := range cols {
				k := vc.Classes[c]
				if c == "failed" {
					k = vc.Failed
				}
				fmt.Fprintf(w, "  %*s", len(c), fmt.Sprintf("%d", k))
			}
			fmt.Fprintln(w)
			for reason, n := range vc.Failures {
				fmt.Fprintf(w, "  %-*s   %d× %s\n", width, "", n, reason)
			}
		}
		for _, d := range mx.Differences(e) {
			fmt.Fprintf(w, "  - %s\n", d.Sentence(e))
		}
	}
}

func runBisect(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bisect", stderr)
	m := newMatrixRunner(fs, stdout, filepath.Join("out", "bisect"))
	from := fs.String("from", "", "the older kcp-go version (required; seed = "+versions.SeedVersion+")")
	to := fs.String("to", "", "the newer kcp-go version (required)")
	// Flags may come before or after ID CLASS.
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usageErr("want ID CLASS (the class, or \"failed\" for trials that fit no class), got %d argument(s)", len(pos))
	}
	if *from == "" || *to == "" {
		return usageErr("-from and -to are required, e.g. -from v5.6.72 -to v5.7.6")
	}
	if err := m.check(); err != nil {
		return err
	}
	es, err := experiments.Select(pos[0])
	if err != nil {
		return usageErr("%v", err)
	}
	if len(es) != 1 {
		return usageErr("%s runs over %d links: name one, e.g. %s", pos[0], len(es), es[0].ID)
	}
	e := es[0]
	class := pos[1]
	var names []string
	for _, c := range e.Classes {
		names = append(names, c.Name)
	}
	if class == "failed" {
		class = report.FailedClass
	} else if !contains(names, class) {
		return usageErr("%s has no class %q: want one of %q or \"failed\"", e.ID, class, names)
	}
	m.ids = []string{e.ID}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ends, err := parseVersions(ctx, m.builder, *from+","+*to)
	if err != nil {
		return err
	}
	if len(ends) != 2 {
		return usageErr("-from and -to are the same version")
	}
	if versions.Compare(ends[0], mustNormalize(*from)) != 0 {
		return usageErr("-from %s is newer than -to %s", *from, *to)
	}
	rel, err := versions.Between(ends[0], ends[1])
	if err != nil {
		return usageErr("%v", err)
	}
	fmt.Fprintf(stdout, "bisect %s %q over %d releases %s..%s\n", e.ID, class, len(rel), rel[0], rel[len(rel)-1])
	runs := 2 // the two ends, then a binary search
	for n := len(rel) - 2; n > 0; n /= 2 {
		runs++
	}
	m.progress(stderr, 2*runs)
	defer func() {
		if m.bar != nil {
			_ = m.bar.Finish()
		}
	}()
	share := func(v string) (*report.VersionCounts, error) {
		res, err := m.run(ctx, v)
		if err != nil {
			return nil, err
		}
		vc := res[e.ID]
		if vc.Error != "" {
			return nil, fmt.Errorf("kcp-go %s: %s", v, vc.Error)
		}
		lo, hi := report.Wilson(vc.Count(class), vc.Trials)
		m.printf("  %-22s %3d/%-3d %5.1f%% (95%%: %.0f–%.0f%%)\n", v, vc.Count(class), vc.Trials,
			100*float64(vc.Count(class))/float64(max(vc.Trials, 1)), 100*lo, 100*hi)
		return vc, nil
	}
	base, err := share(rel[0])
	if err != nil {
		return err
	}
	differs := func(vc *report.VersionCounts) bool {
		return report.Differ(base.Count(class), base.Trials, vc.Count(class), vc.Trials)
	}
	last, err := share(rel[len(rel)-1])
	if err != nil {
		return err
	}
	if !differs(last) {
		m.printf("the share of %q with %s is within the 95%% intervals of %s's: no change to bisect (more -trials narrow the intervals)\n", class, rel[len(rel)-1], rel[0])
		return nil
	}
	before, first, err := bisectSearch(rel, func(v string) (bool, error) {
		vc, err := share(v)
		if err != nil {
			return false, err
		}
		return differs(vc), nil
	}, func(v string) { m.printf("  %-22s not served by the Go module proxy: skipped\n", v) })
	if err != nil {
		return err
	}
	m.printf("first release whose share of %q differs from %s's beyond the 95%% intervals: %s (the release before it, %s, does not)\n",
		class, rel[0], first, before)
	return nil
}

// bisectSearch finds, in rel (oldest first; rel[0] is the base and rel[len-1] differs from it), the
// first release that differs and the one before it, asking differs about O(log n) releases (it
// assumes one change over the range). A release whose run fails with ErrUnknown (a tag the Go
// module proxy does not serve) is left out and reported to skipped.
func bisectSearch(rel []string, differs func(string) (bool, error), skipped func(string)) (before, first string, err error) {
	rel = append([]string(nil), rel...)
	lo, hi := 0, len(rel)-1 // rel[lo] is like the base, rel[hi] differs
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		d, err := differs(rel[mid])
		if errors.Is(err, versions.ErrUnknown) {
			skipped(rel[mid])
			rel = append(rel[:mid:mid], rel[mid+1:]...)
			hi--
			continue
		}
		if err != nil {
			return "", "", err
		}
		if d {
			hi = mid
		} else {
			lo = mid
		}
	}
	return rel[lo], rel[hi], nil
}

func mustNormalize(v string) string {
	n, _ := versions.Normalize(v)
	return n
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
