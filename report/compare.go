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

// Comparison is two runs' class counts side by side (kcplab compare): for each experiment and kcp-go
// version both ran, each class's trials in either run and Fisher's exact p. A class differs when its
// p is below Alpha divided by the number of classes tested (Bonferroni), so that the chance of naming
// any difference between two runs of one distribution stays at most Alpha.
type Comparison struct {
	A, B  string  // how the two runs are named in tables (e.g. their paths)
	Alpha float64 // the chance, over every test, of a difference named where there is none
	Cells []ComparedCell
	// OnlyA and OnlyB are the experiment@version cells that one run has and the other has not.
	OnlyA, OnlyB []string
}

// ComparedCell is one experiment on one kcp-go version in both runs.
type ComparedCell struct {
	ID, Title string
	Version   string // the version both ran, or "A → B" when two one-version runs ran different ones
	A, B      *VersionCounts
	Classes   []ComparedClass
}

// ComparedClass is one class's trials in both runs of a cell.
type ComparedClass struct {
	Class  string
	KA, KB int
	// P is Fisher's exact p of the two shares; Tested is false for a class that every trial or none,
	// in both runs, fell into (p is then 1 and tells nothing).
	P      float64
	Tested bool
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
	return m, nil
}

// ErrNothingInCommon is the error of two runs that share no experiment on any version.
var ErrNothingInCommon = errors.New("the runs have no experiment on a kcp-go version in common")

// Compare pairs the cells of a and b (both matrix.json: of kcplab run, results, matrix or merge):
// when each holds one version, the two versions, whatever they are; otherwise each version both hold.
// A cell whose run produced no counts in either is left out, as are experiments one run lacks.
func Compare(a, b *Matrix, nameA, nameB string, alpha float64) (*Comparison, error) {
	type pair struct{ va, vb, label string }
	var pairs []pair
	if len(a.Versions) == 1 && len(b.Versions) == 1 {
		label := a.Versions[0]
		if b.Versions[0] != label {
			label += " → " + b.Versions[0]
		}
		pairs = []pair{{a.Versions[0], b.Versions[0], label}}
	} else {
		for _, v := range a.Versions {
			if slices.Contains(b.Versions, v) {
				pairs = append(pairs, pair{v, v, v})
			}
		}
	}
	cmp := &Comparison{A: nameA, B: nameB, Alpha: alpha}
	byID := map[string]*MatrixExperiment{}
	for i := range b.Experiments {
		byID[b.Experiments[i].ID] = &b.Experiments[i]
	}
	inA := map[string]bool{}
	for i := range a.Experiments {
		ea := &a.Experiments[i]
		inA[ea.ID] = true
		eb := byID[ea.ID]
		for _, p := range pairs {
			ca, cb := ea.Versions[p.va], (*VersionCounts)(nil)
			if eb != nil {
				cb = eb.Versions[p.vb]
			}
			switch {
			case ran(ca) && ran(cb):
				cmp.Cells = append(cmp.Cells, compareCell(ea, eb, p.label, ca, cb))
			case ran(ca):
				cmp.OnlyA = append(cmp.OnlyA, ea.ID+"@"+p.va)
			case ran(cb):
				cmp.OnlyB = append(cmp.OnlyB, ea.ID+"@"+p.vb)
			}
		}
	}
	for i := range b.Experiments {
		if eb := &b.Experiments[i]; !inA[eb.ID] {
			for _, p := range pairs {
				if ran(eb.Versions[p.vb]) {
					cmp.OnlyB = append(cmp.OnlyB, eb.ID+"@"+p.vb)
				}
			}
		}
	}
	if len(cmp.Cells) == 0 {
		return nil, fmt.Errorf("%w (%s: %s; %s: %s)", ErrNothingInCommon, nameA, strings.Join(a.Versions, ", "), nameB, strings.Join(b.Versions, ", "))
	}
	return cmp, nil
}

// ran reports whether a run produced counts.
func ran(vc *VersionCounts) bool { return vc != nil && vc.Error == "" && vc.Trials > 0 }

// compareCell tests each class of ea (then any other class either run saw, then FailedClass when
// either had a failed trial) between the runs ca and cb.
func compareCell(ea, eb *MatrixExperiment, version string, ca, cb *VersionCounts) ComparedCell {
	c := ComparedCell{ID: ea.ID, Title: ea.Title, Version: version, A: ca, B: cb}
	both := &MatrixExperiment{Classes: ea.Classes, Versions: map[string]*VersionCounts{"a": ca, "b": cb}}
	if eb != nil {
		for _, name := range eb.Classes {
			if !slices.Contains(both.Classes, name) {
				both.Classes = append(slices.Clip(both.Classes), name)
			}
		}
	}
	for _, class := range both.columns([]string{"a", "b"}) {
		ka, kb := ca.Count(class), cb.Count(class)
		cc := ComparedClass{Class: class, KA: ka, KB: kb, P: 1}
		if k := ka + kb; k > 0 && k < ca.Trials+cb.Trials {
			cc.Tested, cc.P = true, FisherP(ka, ca.Trials, kb, cb.Trials)
		}
		c.Classes = append(c.Classes, cc)
	}
	return c
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

// WriteComparisonText writes, per cell, a table of classes by run (trials and share) with each
// class's p, marking those that differ, then one line that sums the comparison up: what
// `kcplab compare` prints.
func WriteComparisonText(w io.Writer, c *Comparison) {
	fmt.Fprintf(w, "A: %s\nB: %s\n", c.A, c.B)
	for _, cell := range c.Cells {
		fmt.Fprintf(w, "\n%s: %s (kcp-go %s)\n", cell.ID, cell.Title, cell.Version)
		t := &Table{Columns: []Column{{Header: "class", Left: true}, {Header: "A", Gap: 2}, {Header: "B", Gap: 2}, {Header: "p", Gap: 2}, {Header: "", Left: true, Gap: 2}}}
		t.Rows = append(t.Rows, Row{Cells: []string{"trials", fmt.Sprint(cell.A.Trials), fmt.Sprint(cell.B.Trials)}})
		for _, cc := range cell.Classes {
			p, mark := "–", ""
			if cc.Tested {
				p = formatP(cc.P)
			}
			switch {
			case c.Differs(cc):
				mark = "differs"
			case cc.Tested && cc.P < c.Alpha:
				mark = fmt.Sprintf("(p < %g alone)", c.Alpha)
			}
			t.Rows = append(t.Rows, Row{Cells: []string{columnName(cc.Class),
				shareCell(cc.KA, cell.A.Trials), shareCell(cc.KB, cell.B.Trials), p, mark}})
		}
		t.WriteText(w, "  ")
		if load := loadLine(cell.A, cell.B); load != "" {
			fmt.Fprintf(w, "  %s\n", load)
		}
	}
	for _, only := range []struct {
		name  string
		cells []string
	}{{"A", c.OnlyA}, {"B", c.OnlyB}} {
		if len(only.cells) > 0 {
			fmt.Fprintf(w, "\nonly in %s, not compared: %s\n", only.name, strings.Join(only.cells, " "))
		}
	}
	differ, weak := c.Differing()
	fmt.Fprintf(w, "\n%d class(es) in %d experiment run(s) tested (Fisher's exact test): %d differ at p < %s (%g over %d tests)",
		c.Tests(), len(c.Cells), differ, formatP(c.Threshold()), c.Alpha, c.Tests())
	if weak > 0 {
		fmt.Fprintf(w, "; %d more have p < %g, as chance alone makes some of so many tests", weak, c.Alpha)
	}
	fmt.Fprintln(w)
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

// runLine is "live capture, 25 at once, 82 in flight on average".
func (v *VersionCounts) runLine() string {
	if v.Capture == "" {
		return "not recorded"
	}
	s := fmt.Sprintf("%s capture, %d at once", v.Capture, v.Parallel)
	if v.InFlightMean > 0 {
		s += fmt.Sprintf(", %.0f in flight on average", v.InFlightMean)
	}
	return s
}
