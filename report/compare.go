package report

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gonum.org/v1/gonum/stat/combin"
	"gonum.org/v1/gonum/stat/distuv"
)

// FisherP is the two-sided p-value of Fisher's exact test that the shares k1/n1 and k2/n2 are one
// share: the probability, with the trials' total in the class fixed, of a split at most as likely as
// the one seen. It is exact at any count, so a class seen 0 times in one run and 3 in the other is
// tested as well as one seen 100 times. 1 when either run has no trials.
func FisherP(k1, n1, k2, n2 int) float64 {
	if n1 <= 0 || n2 <= 0 || k1 < 0 || k2 < 0 || k1 > n1 || k2 > n2 {
		return 1
	}
	n, k := float64(n1+n2), k1+k2
	logP := func(x int) float64 { // hypergeometric: x of the k in the first run's n1 trials
		return combin.LogGeneralizedBinomial(float64(k), float64(x)) +
			combin.LogGeneralizedBinomial(n-float64(k), float64(n1-x)) -
			combin.LogGeneralizedBinomial(n, float64(n1))
	}
	seen := logP(k1)
	p := 0.0
	for x := max(0, k-n2); x <= min(k, n1); x++ {
		// A relative margin keeps splits exactly as likely as the one seen, which rounding makes
		// differ in the last bits, on the same side of it.
		if lp := logP(x); lp <= seen+1e-7 {
			p += math.Exp(lp)
		}
	}
	return min(p, 1)
}

// Comparison is two sides' class counts side by side (kcplab compare), a side being one run or several
// runs of the same thing: for each experiment and kcp-go version both ran, each class's trials on
// either side and its p. A class differs when its p is below Alpha divided by the number of classes
// tested (Bonferroni), so that the chance of naming any difference between two sides of one
// distribution stays at most Alpha.
//
// One run against one run is Fisher's exact test: it takes every trial as an independent draw, which
// holds within a run, but the share of a class a race decides also moves from run to run (RESULTS.md,
// p003). Given several runs on a side, the test is over runs instead: the two pooled shares' z
// statistic with its variance scaled by the spread between the runs of each side (the Pearson
// dispersion of the quasi-binomial model), against Student's t with runs − 2 degrees of freedom, as
// that spread is estimated. When the runs scatter no more than binomial draws (dispersion at most 1)
// nothing is scaled, and with six runs or more in all the reference is the normal, as for one run
// against one. A class whose runs agree thus gets about Fisher's p; one whose runs scatter needs a
// larger move to differ. Three runs a side or more hold the test's level.
type Comparison struct {
	A, B  string  // how the two sides are named in tables (e.g. their paths)
	Alpha float64 // the chance, over every test, of a difference named where there is none
	Cells []ComparedCell
	// OnlyA and OnlyB are the experiment@version cells that one side has and the other has not.
	OnlyA, OnlyB []string
}

// ComparedCell is one experiment on one kcp-go version on both sides.
type ComparedCell struct {
	ID, Title string
	Version   string         // the version both ran, or "A → B" when two one-version sides ran different ones
	A, B      *VersionCounts // each side's runs pooled
	RunsA     []*VersionCounts
	RunsB     []*VersionCounts
	Classes   []ComparedClass
}

// ComparedClass is one class's trials on both sides of a cell.
type ComparedClass struct {
	Class  string
	KA, KB int // pooled over each side's runs
	// P is the p of the two shares (Comparison says which test); Tested is false for a class that
	// every trial or none, on both sides, fell into (p is then 1 and tells nothing).
	P      float64
	Tested bool
	// Dispersion is the spread between the runs of each side as a multiple of the binomial variance
	// (Pearson χ² over its degrees of freedom), 0 when both sides are one run.
	Dispersion float64
}

// Side is one side of a comparison: its name and its runs, each a matrix.json of the same versions.
type Side struct {
	Name string
	Runs []*Matrix
}

// ReadRun reads the class counts of a run: path as a matrix.json, or path/matrix.json when path is a
// directory (the -out of kcplab run, results, matrix or merge; testdata/ for RESULTS.md's run).
func ReadRun(path string) (*Matrix, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		path = filepath.Join(path, "matrix.json")
	}
	m, err := ReadMatrix(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, errors.New(path + ": no such file (kcplab run, results, matrix and merge write OUT/matrix.json)")
	case err != nil:
		return nil, err
	case len(m.Versions) == 0 || len(m.Experiments) == 0:
		return nil, errors.New(path + ": not a matrix.json of kcplab: no versions or no experiments")
	}
	if err := m.checkCounts(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// checkCounts reports the first run whose counts cannot be a run's: a negative count, or a class or
// failure count above its trials.
func (m *Matrix) checkCounts() error {
	for _, e := range m.Experiments {
		for v, vc := range e.Versions {
			if vc == nil {
				continue
			}
			bad := vc.Trials < 0 || vc.Failed < 0 || vc.Failed > vc.Trials
			for _, k := range vc.Classes {
				bad = bad || k < 0 || k > vc.Trials
			}
			if bad {
				return fmt.Errorf("%s on %s: counts that no run has (%d trials, %d failed, classes %v)", e.ID, v, vc.Trials, vc.Failed, vc.Classes)
			}
		}
	}
	return nil
}

// ErrNothingInCommon is the error of two sides that share no experiment on any version.
var ErrNothingInCommon = errors.New("the runs have no experiment on a kcp-go version in common")

// ErrMixedSide is the error of a side whose runs ran different kcp-go versions.
var ErrMixedSide = errors.New("the runs of one side ran different kcp-go versions")

// Compare pairs the cells of a and b (matrix.json files: of kcplab run, results, matrix or merge):
// when each side holds one version, the two versions, whatever they are; otherwise each version both
// hold. A side's runs must hold the same versions; each cell pools the side's runs that ran it. A
// cell that no run of one side ran is left out and listed.
func Compare(a, b Side, alpha float64) (*Comparison, error) {
	for _, sd := range []Side{a, b} {
		if len(sd.Runs) == 0 {
			return nil, fmt.Errorf("%s: no run", sd.Name)
		}
		for _, m := range sd.Runs[1:] {
			if !slices.Equal(m.Versions, sd.Runs[0].Versions) {
				return nil, fmt.Errorf("%w: %s: %s and %s", ErrMixedSide, sd.Name,
					strings.Join(sd.Runs[0].Versions, ", "), strings.Join(m.Versions, ", "))
			}
		}
	}
	va, vb := a.Runs[0].Versions, b.Runs[0].Versions
	type pair struct{ va, vb, label string }
	var pairs []pair
	if len(va) == 1 && len(vb) == 1 {
		label := va[0]
		if vb[0] != label {
			label += " → " + vb[0]
		}
		pairs = []pair{{va[0], vb[0], label}}
	} else {
		for _, v := range va {
			if slices.Contains(vb, v) {
				pairs = append(pairs, pair{v, v, v})
			}
		}
	}
	cmp := &Comparison{A: a.Name, B: b.Name, Alpha: alpha}
	for _, id := range experimentIDs(a, b) {
		for _, p := range pairs {
			ea, runsA := cellRuns(a, id, p.va)
			eb, runsB := cellRuns(b, id, p.vb)
			switch {
			case len(runsA) > 0 && len(runsB) > 0:
				cmp.Cells = append(cmp.Cells, compareCell(ea, eb, p.label, runsA, runsB))
			case len(runsA) > 0:
				cmp.OnlyA = append(cmp.OnlyA, id+"@"+p.va)
			case len(runsB) > 0:
				cmp.OnlyB = append(cmp.OnlyB, id+"@"+p.vb)
			}
		}
	}
	if len(cmp.Cells) == 0 {
		return nil, fmt.Errorf("%w (%s: %s; %s: %s)", ErrNothingInCommon, a.Name, strings.Join(va, ", "), b.Name, strings.Join(vb, ", "))
	}
	return cmp, nil
}

// experimentIDs lists the experiments of every run of a, then of b, each once, in their order.
func experimentIDs(a, b Side) []string {
	var ids []string
	for _, m := range slices.Concat(a.Runs, b.Runs) {
		for _, e := range m.Experiments {
			if !slices.Contains(ids, e.ID) {
				ids = append(ids, e.ID)
			}
		}
	}
	return ids
}

// cellRuns returns the counts of each run of sd that ran experiment id on version v, and the
// experiment as the first of them declares it.
func cellRuns(sd Side, id, v string) (*MatrixExperiment, []*VersionCounts) {
	var e *MatrixExperiment
	var runs []*VersionCounts
	for _, m := range sd.Runs {
		for i := range m.Experiments {
			if me := &m.Experiments[i]; me.ID == id && ran(me.Versions[v]) {
				if e == nil {
					e = me
				}
				runs = append(runs, me.Versions[v])
			}
		}
	}
	return e, runs
}

// ran reports whether a run produced counts.
func ran(vc *VersionCounts) bool { return vc != nil && vc.Error == "" && vc.Trials > 0 }

// pool adds up runs of one cell (Add).
func pool(runs []*VersionCounts) *VersionCounts {
	p := &VersionCounts{}
	for _, r := range runs {
		p.Add(r)
	}
	return p
}

// compareCell tests each class of ea (then any other class either side saw, then FailedClass when
// either had a failed trial) between the sides' runs.
func compareCell(ea, eb *MatrixExperiment, version string, runsA, runsB []*VersionCounts) ComparedCell {
	c := ComparedCell{ID: ea.ID, Title: ea.Title, Version: version, A: pool(runsA), B: pool(runsB), RunsA: runsA, RunsB: runsB}
	both := &MatrixExperiment{Classes: ea.Classes, Versions: map[string]*VersionCounts{"a": c.A, "b": c.B}}
	for _, name := range eb.Classes {
		if !slices.Contains(both.Classes, name) {
			both.Classes = append(slices.Clip(both.Classes), name)
		}
	}
	for _, class := range both.columns([]string{"a", "b"}) {
		cc := ComparedClass{Class: class, KA: c.A.Count(class), KB: c.B.Count(class)}
		cc.P, cc.Dispersion, cc.Tested = c.classP(class)
		c.Classes = append(c.Classes, cc)
	}
	return c
}

// classP is the p of class's share between c's sides: Fisher's exact test when each side is one
// run, else the test over runs, with the dispersion between runs it allowed for. A class that no
// trial, or every trial, fell into on both sides is not tested (p 1).
func (c *ComparedCell) classP(class string) (p, dispersion float64, tested bool) {
	ka, kb := c.A.Count(class), c.B.Count(class)
	if k := ka + kb; k == 0 || k == c.A.Trials+c.B.Trials {
		return 1, 0, false
	}
	if len(c.RunsA) == 1 && len(c.RunsB) == 1 {
		return FisherP(ka, c.A.Trials, kb, c.B.Trials), 0, true
	}
	p, dispersion = c.overRuns(class)
	return p, dispersion, true
}

// ClassP is the p of class's share between two sides' runs of one experiment on one version, as
// Compare tests it: Fisher's exact test for one run against one, else the test over runs. 1 when no
// trial, or every trial, of both sides fell into the class, or a side has no runs.
func ClassP(class string, runsA, runsB []*VersionCounts) float64 {
	if len(runsA) == 0 || len(runsB) == 0 {
		return 1
	}
	c := ComparedCell{A: pool(runsA), B: pool(runsB), RunsA: runsA, RunsB: runsB}
	p, _, _ := c.classP(class)
	return p
}

// minRunsDF is the least runs − 2 at which a spread no wider than binomial draws is taken as theirs.
// Fewer runs tell too little of their spread: 1 run against 2 whose shares scatter from 8% to 30%
// came out different at p < 0.05 in 14% of seeded pairs with the normal reference, so below it the
// reference is always Student's t (TestCompareOverRunsFewRuns).
const minRunsDF = 4

// overRuns is the p of class's share between the runs of c's sides, not both of one run, and the
// dispersion between runs it allowed for (Comparison).
func (c *ComparedCell) overRuns(class string) (p, dispersion float64) {
	runsA, runsB := c.RunsA, c.RunsB
	ka, na, kb, nb := float64(c.A.Count(class)), float64(c.A.Trials), float64(c.B.Count(class)), float64(c.B.Trials)
	// Pearson χ² of each run against its side's pooled share.
	chi2 := 0.0
	for _, side := range []struct {
		runs  []*VersionCounts
		share float64
	}{{runsA, ka / na}, {runsB, kb / nb}} {
		if side.share == 0 || side.share == 1 {
			continue // every run of the side has the pooled share exactly
		}
		for _, r := range side.runs {
			n := float64(r.Trials)
			d := float64(r.Count(class)) - n*side.share
			chi2 += d * d / (n * side.share * (1 - side.share))
		}
	}
	df := float64(len(runsA) + len(runsB) - 2)
	dispersion = chi2 / df
	both := (ka + kb) / (na + nb)
	z := math.Abs(ka/na-kb/nb) / math.Sqrt(both*(1-both)*(1/na+1/nb)*max(dispersion, 1))
	if dispersion <= 1 && df >= minRunsDF { // runs that scatter as binomial draws: the pooled z
		return min(math.Erfc(z/math.Sqrt2), 1), dispersion // both tails; Erfc keeps the far tail that 1 − CDF rounds to 0
	}
	return min(2*distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}.Survival(z), 1), dispersion
}

// Tests is the number of classes tested, over every cell: the Bonferroni divisor.
func (c *Comparison) Tests() int {
	n := 0
	for _, cell := range c.Cells {
		for _, cc := range cell.Classes {
			if cc.Tested {
				n++
			}
		}
	}
	return n
}

// Threshold is the p below which a class differs: Alpha over the tests.
func (c *Comparison) Threshold() float64 { return c.Alpha / float64(max(c.Tests(), 1)) }

// Differs reports whether cc's shares differ at the comparison's threshold.
func (c *Comparison) Differs(cc ComparedClass) bool { return cc.Tested && cc.P < c.Threshold() }

// Differing counts the classes that differ, and those with p below Alpha that do not (each test on
// its own would name them; over this many tests, chance alone would name some).
func (c *Comparison) Differing() (differ, weak int) {
	for _, cell := range c.Cells {
		for _, cc := range cell.Classes {
			switch {
			case c.Differs(cc):
				differ++
			case cc.Tested && cc.P < c.Alpha:
				weak++
			}
		}
	}
	return differ, weak
}

// hasRuns reports whether any cell has several runs on a side, so that its classes were tested over
// runs.
func (c *Comparison) hasRuns() bool {
	for _, cell := range c.Cells {
		if len(cell.RunsA) > 1 || len(cell.RunsB) > 1 {
			return true
		}
	}
	return false
}

// WriteComparisonText writes, per cell, a table of classes by side (trials and share, pooled over a
// side's runs, with each run's count under the class and the spread between runs when a side has
// several) with each class's p, marking those that differ, then one line that sums the comparison
// up: what `kcplab compare` prints. With changesOnly, a cell shows only its classes with p below
// Alpha, and a cell without one is left out (`kcplab compare -changes`).
func WriteComparisonText(w io.Writer, c *Comparison, changesOnly bool) {
	fmt.Fprintf(w, "A: %s\nB: %s\n", c.A, c.B)
	byRuns := c.hasRuns()
	unchanged := 0
	for _, cell := range c.Cells {
		classes := cell.Classes
		if changesOnly {
			classes = nil
			for _, cc := range cell.Classes {
				if cc.Tested && cc.P < c.Alpha {
					classes = append(classes, cc)
				}
			}
			if len(classes) == 0 {
				unchanged++
				continue
			}
		}
		fmt.Fprintf(w, "\n%s: %s (kcp-go %s)\n", cell.ID, cell.Title, cell.Version)
		t := &Table{Columns: []Column{{Header: "class", Left: true}, {Header: "A", Gap: 2}, {Header: "B", Gap: 2}, {Header: "p", Gap: 2}}}
		if byRuns {
			t.Columns = append(t.Columns, Column{Header: "spread", Gap: 2})
		}
		t.Columns = append(t.Columns, Column{Left: true, Gap: 2})
		if byRuns {
			t.Rows = append(t.Rows, Row{Cells: []string{"runs", fmt.Sprint(len(cell.RunsA)), fmt.Sprint(len(cell.RunsB))}})
		}
		t.Rows = append(t.Rows, Row{Cells: []string{"trials", fmt.Sprint(cell.A.Trials), fmt.Sprint(cell.B.Trials)}})
		for _, cc := range classes {
			row := Row{Cells: []string{columnName(cc.Class), shareCell(cc.KA, cell.A.Trials), shareCell(cc.KB, cell.B.Trials), "–"}}
			if cc.Tested {
				row.Cells[3] = formatP(cc.P)
			}
			if byRuns {
				spread := ""
				if cc.Tested && cc.Dispersion > 0 {
					spread = fmt.Sprintf("×%.1f", cc.Dispersion)
				}
				row.Cells = append(row.Cells, spread)
				if cc.Tested {
					row.Below = []string{fmt.Sprintf("runs: A %s; B %s", runCounts(cell.RunsA, " ", inClass(cc.Class)), runCounts(cell.RunsB, " ", inClass(cc.Class)))}
				}
			}
			switch {
			case c.Differs(cc):
				row.Cells = append(row.Cells, "differs")
			case cc.Tested && cc.P < c.Alpha:
				row.Cells = append(row.Cells, fmt.Sprintf("(p < %g alone)", c.Alpha))
			}
			t.Rows = append(t.Rows, row)
		}
		t.WriteText(w, "  ")
		if load := loadLine(cell.A, cell.B); load != "" {
			fmt.Fprintf(w, "  %s\n", load)
		}
	}
	if unchanged > 0 {
		fmt.Fprintf(w, "\n%d experiment run(s) with no class at p < %g not shown\n", unchanged, c.Alpha)
	}
	for _, only := range []struct {
		name  string
		cells []string
	}{{"A", c.OnlyA}, {"B", c.OnlyB}} {
		if len(only.cells) > 0 {
			fmt.Fprintf(w, "\nonly in %s, not compared: %s\n", only.name, strings.Join(only.cells, " "))
		}
	}
	if n := c.OtherProcessors(); n > 0 {
		fmt.Fprintf(w, "\nthe sides ran on other processors (GOMAXPROCS or CPUs) in %d experiment run(s): a class a Close race decides moves with them (RESULTS.md, p003)\n", n)
	}
	test := "Fisher's exact test"
	if byRuns {
		test = "over runs where a side has several: the shares' z, its variance times the spread between runs, against Student's t"
	}
	differ, weak := c.Differing()
	fmt.Fprintf(w, "\n%d class(es) in %d experiment run(s) tested (%s): %d differ at p < %s (%g over %d tests)",
		c.Tests(), len(c.Cells), test, differ, formatP(c.Threshold()), c.Alpha, c.Tests())
	if weak > 0 {
		verb := "have"
		if weak == 1 {
			verb = "has"
		}
		fmt.Fprintf(w, "; %d more %s p < %g, as chance alone makes some of so many tests", weak, verb, c.Alpha)
	}
	fmt.Fprintln(w)
}

// OtherProcessors counts the cells whose sides both recorded their GOMAXPROCS and CPUs, and differ in
// either.
func (c *Comparison) OtherProcessors() int {
	n := 0
	for _, cell := range c.Cells {
		a, b := cell.A, cell.B
		if a.GoMaxProcs > 0 && b.GoMaxProcs > 0 && (a.GoMaxProcs != b.GoMaxProcs || a.CPUs != b.CPUs) {
			n++
		}
	}
	return n
}

// runCounts joins one count of each run with sep: "20 13 27", "20 · 13 · 27".
func runCounts(runs []*VersionCounts, sep string, count func(*VersionCounts) int) string {
	ks := make([]string, len(runs))
	for i, r := range runs {
		ks[i] = fmt.Sprint(count(r))
	}
	return strings.Join(ks, sep)
}

// inClass counts a run's trials in class (runCounts).
func inClass(class string) func(*VersionCounts) int {
	return func(vc *VersionCounts) int { return vc.Count(class) }
}

// shareCell is "k (s%)".
func shareCell(k, n int) string { return fmt.Sprintf("%d (%s)", k, sharePct(k, n)) }

// formatP writes a p-value with two significant digits.
func formatP(p float64) string {
	if p >= 0.01 {
		return fmt.Sprintf("%.2f", p)
	}
	return fmt.Sprintf("%.1e", p)
}

// loadLine says how each run was run, when either says: its capture, trials at once and mean trials
// in flight in its process. A race class's share moves with these (RESULTS.md, p003).
func loadLine(a, b *VersionCounts) string {
	if a.Capture == "" && b.Capture == "" {
		return ""
	}
	return fmt.Sprintf("ran: A %s; B %s", a.runLine(), b.runLine())
}

// runLine is "live capture, 25 at once, 82 in flight on average, GOMAXPROCS 2 on 2 CPUs, a stall over
// 4 ms in 99% of trials" (capture "mixed", and no trials at once or GOMAXPROCS, for pooled runs that
// differed in them; nothing the run did not record).
func (v *VersionCounts) runLine() string {
	if v.Capture == "" {
		return "not recorded"
	}
	s := v.Capture + " capture"
	if v.Parallel > 0 {
		s += fmt.Sprintf(", %d at once", v.Parallel)
	}
	if v.InFlightMean > 0 {
		s += fmt.Sprintf(", %.0f in flight on average", v.InFlightMean)
	}
	if v.GoMaxProcs > 0 {
		s += fmt.Sprintf(", GOMAXPROCS %d on %d CPUs", v.GoMaxProcs, v.CPUs)
	}
	if v.Stalled > 0 {
		s += fmt.Sprintf(", a stall over 4 ms in %s of trials", sharePct(v.Stalled, v.Trials))
	}
	return s
}
