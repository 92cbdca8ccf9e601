package matrix

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"kcplab/harness"
	"kcplab/report"
	"kcplab/versions"
)

// BisectClass returns class as Bisect takes it, after checking that e has it; report.FailedColumn
// names the trials that fit no class.
func BisectClass(e *harness.Experiment, class string) (string, error) {
	if class == report.FailedColumn {
		return report.FailedClass, nil
	}
	var names []string
	for _, c := range e.Classes {
		names = append(names, c.Name)
	}
	if !slices.Contains(names, class) {
		return "", fmt.Errorf("%s has no class %q: want one of %q or %q", e.ID, class, names, report.FailedColumn)
	}
	return class, nil
}

// BisectRange returns the releases Bisect runs over from first to last (versions.Between), after
// checking that they differ and, both releases, come in order.
func BisectRange(first, last string) ([]string, error) {
	switch {
	case first == last:
		return nil, errors.New("-from and -to are the same version")
	case !versions.IsLocal(first) && !versions.IsLocal(last) && versions.Compare(first, last) > 0:
		return nil, fmt.Errorf("-from %s is newer than -to %s", first, last)
	}
	return versions.Between(first, last)
}

// Bisection is what Bisect found over a range of releases.
type Bisection struct {
	// Changed is whether the last release's share of the class differs from the first's (BisectTest);
	// when it does, First is the first release that differs and Before the one before it.
	Changed       bool
	Before, First string
}

// BisectAlpha is the chance, over all of a bisection's comparisons together, of naming a change
// where there is none, when each release runs several times.
const BisectAlpha = 0.05

// BisectTest says when Bisect, over n releases with runs runs of each, takes a release's share to
// differ from the first's: beyond the 95% intervals for one run, else at the test over runs of
// report.ClassP below BisectAlpha over the comparisons it makes at most (Bonferroni).
func BisectTest(n, runs int) string {
	if runs <= 1 {
		return "beyond the 95% intervals"
	}
	return fmt.Sprintf("at p < %.2g over %d runs a release", bisectThreshold(n), runs)
}

// bisectThreshold is the p below which a release differs from the first, over n releases: the
// comparisons are those of the releases after the first that Bisect runs.
func bisectThreshold(n int) float64 { return BisectAlpha / float64(BisectRuns(n)-1) }

// Bisect runs the experiment id over the releases rel (oldest first; it runs rel's ends, then
// O(log n) releases between them) and finds the first whose share of class (report.FailedClass: the
// failed trials) differs from the first release's (BisectTest). It runs each release runs times
// (at least once), run i > 1 under OUT/run-i/: a class a race decides moves from run to run more than
// one run's interval says (RESULTS.md, p003), and the test over runs counts that spread. It assumes
// one change over the range. A release between the ends that the Go module proxy does not serve is
// left out, with a status line.
func (r *Runner) Bisect(ctx context.Context, id, class string, rel []string, runs int) (Bisection, error) {
	reps := []*Runner{r}
	for i := 2; i <= runs; i++ {
		rep := *r
		rep.Out, rep.runs = filepath.Join(r.Out, fmt.Sprintf("run-%d", i)), nil
		reps = append(reps, &rep)
	}
	share := func(v string) ([]*report.VersionCounts, error) {
		var vcs []*report.VersionCounts
		for _, rep := range reps {
			res, err := rep.Run(ctx, v)
			if err != nil {
				return nil, err
			}
			vc := res[id]
			if vc.Error != "" {
				return nil, fmt.Errorf("kcp-go %s: %s", v, vc.Error)
			}
			vcs = append(vcs, vc)
		}
		k, n := 0, 0
		var each []string
		for _, vc := range vcs {
			k, n = k+vc.Count(class), n+vc.Trials
			each = append(each, fmt.Sprint(vc.Count(class)))
		}
		lo, hi := report.Wilson(k, n)
		line := fmt.Sprintf("  %-22s %3d/%-3d %5.1f%% (95%%: %.0f–%.0f%%)", v, k, n, 100*float64(k)/float64(max(n, 1)), 100*lo, 100*hi)
		if len(vcs) > 1 {
			line += fmt.Sprintf(", runs: %s", strings.Join(each, " "))
		}
		r.logf("%s\n", line)
		return vcs, nil
	}
	base, err := share(rel[0])
	if err != nil {
		return Bisection{}, err
	}
	differs := func(vcs []*report.VersionCounts) bool {
		if len(reps) == 1 {
			return report.Differ(base[0].Count(class), base[0].Trials, vcs[0].Count(class), vcs[0].Trials)
		}
		return report.ClassP(class, base, vcs) < bisectThreshold(len(rel))
	}
	last, err := share(rel[len(rel)-1])
	if err != nil || !differs(last) {
		return Bisection{}, err
	}
	before, first, err := search(rel, func(v string) (bool, error) {
		vcs, err := share(v)
		if err != nil {
			return false, err
		}
		return differs(vcs), nil
	}, func(v string) { r.logf("  %-22s not served by the Go module proxy: skipped\n", v) })
	return Bisection{Changed: err == nil, Before: before, First: first}, err
}

// BisectRuns is how many releases Bisect runs at most over n releases: the two ends, then a binary
// search.
func BisectRuns(n int) int {
	runs := 2
	for n := n - 2; n > 0; n /= 2 {
		runs++
	}
	return runs
}

// search finds, in rel (oldest first; rel[0] is the base and rel[len-1] differs from it), the first
// release that differs and the one before it, asking differs about O(log n) releases (it assumes one
// change over the range). A release whose run fails with ErrUnknown (a tag the Go module proxy does
// not serve) is left out and reported to skipped.
func search(rel []string, differs func(string) (bool, error), skipped func(string)) (before, first string, err error) {
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
