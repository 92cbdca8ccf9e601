package report

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"kcplab/harness"
)

// Matrix is matrix.json: the outcome classes of experiments run against several kcp-go releases.
type Matrix struct {
	Versions    []string           `json:"versions"` // kcp-go versions, oldest first
	Trials      int                `json:"trials"`   // trials asked per experiment (0: each experiment's default)
	Experiments []MatrixExperiment `json:"experiments"`
	// Peers are the peers of a pairs matrix (kcplab matrix -pairs), by the label its rows and columns
	// use, each as its hello named it.
	Peers []MatrixPeer `json:"peers,omitempty"`
}

// MatrixPeer is one peer of a pairs matrix: its label, what its hello said, the command it ran as.
type MatrixPeer struct {
	Label       string `json:"label"`
	Impl        string `json:"impl"`
	ImplVersion string `json:"impl_version,omitempty"`
	KCPGo       string `json:"kcp_go,omitempty"`
	Command     string `json:"command"`
}

// MatrixExperiment is one experiment across versions.
type MatrixExperiment struct {
	ID           string                    `json:"id"`
	Title        string                    `json:"title"`
	Classes      []string                  `json:"classes"`                // the named classes, in the experiment's order, then any discovered ones
	Descriptions map[string]string         `json:"descriptions,omitempty"` // class -> one sentence
	Versions     map[string]*VersionCounts `json:"versions"`               // by kcp-go version
}

// VersionCounts is one experiment's run on one kcp-go version.
type VersionCounts struct {
	KCPGo   string         `json:"kcp_go"` // the version the run's summary.json reports (from the binary's build info)
	Trials  int            `json:"trials"`
	Classes map[string]int `json:"classes"`
	Failed  int            `json:"failed"` // trials that fit no class or broke an invariant
	Seconds float64        `json:"seconds,omitempty"`
	Summary string         `json:"summary,omitempty"` // path of its summary.json
	Error   string         `json:"error,omitempty"`   // the run produced no summary
	Answer  string         `json:"answer,omitempty"`  // the experiment's answer to its question, from this run
	// Failures counts the failed trials by what failed, from the structured failures of summary.json
	// (harness.Failure's String, e.g. `invariant "x" broken`).
	Failures map[string]int `json:"failures,omitempty"`
	// Capture, Parallel and InFlightMean say how the run ran (summary.json's capture, parallel and
	// concurrency.in_flight_mean), GoMaxProcs and CPUs on what (gomaxprocs, cpus), and Stalled how the
	// machine did (load.stalled: trials in which the process stalled longer than 4 ms): a race class's
	// share moves with them.
	Capture      string  `json:"capture,omitempty"`
	Parallel     int     `json:"parallel,omitempty"`
	InFlightMean float64 `json:"in_flight_mean,omitempty"`
	GoMaxProcs   int     `json:"gomaxprocs,omitempty"`
	CPUs         int     `json:"cpus,omitempty"`
	Stalled      int     `json:"stalled,omitempty"`
}

// CountsOf is a run's counts as a matrix cell, from its summary (read from path).
func CountsOf(s *harness.Summary, path string) *VersionCounts {
	vc := &VersionCounts{KCPGo: s.KCPGo, Trials: len(s.Trials), Classes: s.Classes, Failed: s.Failed,
		Seconds: s.Seconds, Summary: path, Capture: string(s.Capture), Parallel: s.Parallel, GoMaxProcs: s.GoMaxProcs, CPUs: s.CPUs,
		Stalled: s.Load.Stalled, Answer: s.Answer}
	if s.Concurrency != nil {
		vc.InFlightMean = s.Concurrency.InFlightMean
	}
	for _, t := range s.Trials {
		if t.Error == "" {
			continue
		}
		if vc.Failures == nil {
			vc.Failures = map[string]int{}
		}
		vc.Failures[harness.FailureKey(t.Failures)]++
	}
	return vc
}

// RunMatrix is a run's class counts as a matrix of one version, the kcp-go the run reports: what kcplab
// run and results write as OUT/matrix.json for kcplab compare. out is where the run wrote each
// experiment's summary.json (OUT/ID/); trials is the trials asked per experiment (0: each one's default).
func RunMatrix(results []*harness.Result, out string, trials int) *Matrix {
	m := &Matrix{Trials: trials}
	for _, res := range results {
		s := res.Summary()
		if m.Versions == nil {
			m.Versions = []string{s.KCPGo}
		}
		e := ExperimentOf(res.Experiment)
		e.Versions[m.Versions[0]] = CountsOf(&s, filepath.Join(out, res.Experiment.ID, "summary.json"))
		m.Experiments = append(m.Experiments, e)
	}
	return m
}

// Keeping returns the counts of a results file that ran m's experiments over kept's run: kept's
// experiments in their order, each that m ran replaced by m's, then m's others. When the two ran
// other kcp-go versions, m's alone: the runs cannot be one table.
func (m *Matrix) Keeping(kept *Matrix) *Matrix {
	if kept == nil || !slices.Equal(m.Versions, kept.Versions) {
		return m
	}
	ran := map[string]MatrixExperiment{}
	for _, e := range m.Experiments {
		ran[e.ID] = e
	}
	out := &Matrix{Versions: m.Versions, Trials: m.Trials}
	for _, e := range kept.Experiments {
		if r, ok := ran[e.ID]; ok {
			e = r
			delete(ran, e.ID)
		}
		out.Experiments = append(out.Experiments, e)
	}
	for _, e := range m.Experiments {
		if _, ok := ran[e.ID]; ok {
			out.Experiments = append(out.Experiments, e)
		}
	}
	return out
}

// ExperimentOf is e's row group of a matrix: its named classes in order, with their descriptions, and
// no runs yet.
func ExperimentOf(e *harness.Experiment) MatrixExperiment {
	me := MatrixExperiment{ID: e.ID, Title: e.Title, Descriptions: map[string]string{}, Versions: map[string]*VersionCounts{}}
	for _, c := range e.Classes {
		me.Classes = append(me.Classes, c.Name)
		me.Descriptions[c.Name] = c.Description
	}
	return me
}

// FailedClass names the trials that fit no class in tables, charts and sentences.
const FailedClass = "(failed: fits no class)"

// Count returns the trials of class (FailedClass: the failed trials).
func (v *VersionCounts) Count(class string) int {
	if class == FailedClass {
		return v.Failed
	}
	return v.Classes[class]
}

// Add adds the counts of o, another run of the same experiment and version, to v's; InFlightMean
// becomes the mean of both runs' means, weighted by their trials. How they ran stays where both runs
// ran alike: a capture that differs becomes "mixed", and trials at once, GOMAXPROCS and CPUs that
// differ become 0 (no one figure says it).
func (v *VersionCounts) Add(o *VersionCounts) {
	if v.Trials == 0 {
		v.Capture, v.Parallel, v.GoMaxProcs, v.CPUs = o.Capture, o.Parallel, o.GoMaxProcs, o.CPUs
	}
	if v.Capture != o.Capture {
		v.Capture = "mixed"
	}
	if v.Parallel != o.Parallel {
		v.Parallel = 0
	}
	if v.GoMaxProcs != o.GoMaxProcs || v.CPUs != o.CPUs {
		v.GoMaxProcs, v.CPUs = 0, 0
	}
	if n := v.Trials + o.Trials; n > 0 {
		v.InFlightMean = (v.InFlightMean*float64(v.Trials) + o.InFlightMean*float64(o.Trials)) / float64(n)
	}
	v.Trials += o.Trials
	v.Stalled += o.Stalled
	v.Failed += o.Failed
	v.Seconds += o.Seconds
	v.Classes = sumCounts(v.Classes, o.Classes)
	v.Failures = sumCounts(v.Failures, o.Failures)
}

// sumCounts adds b's counts to a's (a new map when a is nil and b is not).
func sumCounts(a, b map[string]int) map[string]int {
	if len(b) > 0 && a == nil {
		a = map[string]int{}
	}
	for k, n := range b {
		a[k] += n
	}
	return a
}

// Failed counts the failed trials of every run, and every run that produced no counts.
func (m *Matrix) Failed() int {
	failed := 0
	for _, e := range m.Experiments {
		for _, vc := range e.Versions {
			failed += vc.Failed
			if vc.Error != "" {
				failed++
			}
		}
	}
	return failed
}

// ReadMatrix reads a matrix.json.
func ReadMatrix(path string) (*Matrix, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m Matrix
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &m, nil
}

// WriteMatrix writes m as indented JSON.
func WriteMatrix(path string, m *Matrix) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// Wilson returns the Wilson score interval at 95% of the share k/n (0, 1 when n is 0).
func Wilson(k, n int) (lo, hi float64) {
	if n <= 0 {
		return 0, 1
	}
	const z = 1.959963984540054
	p, nf := float64(k)/float64(n), float64(n)
	den := 1 + z*z/nf
	mid := (p + z*z/(2*nf)) / den
	half := z * math.Sqrt(p*(1-p)/nf+z*z/(4*nf*nf)) / den
	return math.Max(0, mid-half), math.Min(1, mid+half)
}

// Differ reports whether the shares k1/n1 and k2/n2 differ beyond their 95% intervals: their Wilson
// intervals do not overlap.
func Differ(k1, n1, k2, n2 int) bool {
	if n1 <= 0 || n2 <= 0 {
		return false
	}
	lo1, hi1 := Wilson(k1, n1)
	lo2, hi2 := Wilson(k2, n2)
	return hi1 < lo2 || hi2 < lo1
}

// columns returns the experiment's classes plus FailedClass when any version had a failed trial.
func (e *MatrixExperiment) columns(versions []string) []string {
	cols := append([]string(nil), e.Classes...)
	seen := map[string]bool{}
	for _, c := range cols {
		seen[c] = true
	}
	var extra []string
	failed := false
	for _, v := range versions {
		vc := e.Versions[v]
		if vc == nil {
			continue
		}
		failed = failed || vc.Failed > 0
		for c := range vc.Classes {
			if !seen[c] {
				seen[c] = true
				extra = append(extra, c)
			}
		}
	}
	sort.Strings(extra)
	cols = append(cols, extra...)
	if failed {
		cols = append(cols, FailedClass)
	}
	return cols
}

// Difference is a class whose share differs between two versions beyond their 95% intervals.
type Difference struct {
	Class  string
	A, B   string // versions
	KA, NA int
	KB, NB int
}

// Differences lists, per class, the adjacent versions (in m.Versions order) whose shares differ
// beyond their 95% intervals, and the first and last version when they differ without any adjacent
// pair doing so (a drift over several releases).
func (m *Matrix) Differences(e *MatrixExperiment) []Difference {
	var vs []string
	for _, v := range m.Versions {
		if vc := e.Versions[v]; vc != nil && vc.Trials > 0 {
			vs = append(vs, v)
		}
	}
	var out []Difference
	for _, c := range e.columns(vs) {
		found := false
		diff := func(a, b string) bool {
			va, vb := e.Versions[a], e.Versions[b]
			if !Differ(va.Count(c), va.Trials, vb.Count(c), vb.Trials) {
				return false
			}
			out = append(out, Difference{Class: c, A: a, B: b, KA: va.Count(c), NA: va.Trials, KB: vb.Count(c), NB: vb.Trials})
			return true
		}
		for i := 1; i < len(vs); i++ {
			found = diff(vs[i-1], vs[i]) || found
		}
		if !found && len(vs) > 2 {
			diff(vs[0], vs[len(vs)-1])
		}
	}
	return out
}

func sharePct(k, n int) string {
	if n == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f%%", 100*float64(k)/float64(n))
}

func interval(k, n int) string {
	lo, hi := Wilson(k, n)
	return fmt.Sprintf("%.0f–%.0f%%", 100*lo, 100*hi)
}

// Sentence says a difference in words.
func (d Difference) Sentence(e *MatrixExperiment) string {
	return fmt.Sprintf("%s: %s (%d/%d) with %s and %s (%d/%d) with %s (95%% intervals %s and %s).",
		e.classPhrase(d.Class), sharePct(d.KA, d.NA), d.KA, d.NA, d.A, sharePct(d.KB, d.NB), d.KB, d.NB, d.B,
		interval(d.KA, d.NA), interval(d.KB, d.NB))
}

// classPhrase names class at the start of a sentence: quoted, with its description when e has one.
func (e *MatrixExperiment) classPhrase(class string) string {
	what := fmt.Sprintf("%q", class)
	if class == FailedClass {
		what = "a trial that fits no class"
	} else if desc := e.Descriptions[class]; desc != "" {
		what = fmt.Sprintf("%q (%s)", class, strings.TrimSuffix(desc, "."))
	}
	return capitalize(what)
}

func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// MatrixSection renders the body of the matrix section of RESULTS.md (under a heading such as "## kcp-go
// versions"): per experiment a table (rows: versions,
// columns: classes with count and share), the chart when charts has one for the experiment (a path
// relative to RESULTS.md), and one sentence per difference beyond the 95% intervals.
func MatrixSection(m *Matrix, charts map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "The experiments run against each kcp-go release (`kcplab matrix`), each in its own process built against that release: %s", strings.Join(quoteAll(m.Versions), ", "))
	if m.Trials > 0 {
		fmt.Fprintf(&b, "; %d trials per experiment and release", m.Trials)
	}
	b.WriteString(".\n")
	b.WriteString("Each cell is trials in the class and their share; a difference is named when the two 95% (Wilson) intervals do not overlap.\n")
	for i := range m.Experiments {
		e := &m.Experiments[i]
		fmt.Fprintf(&b, "\n### %s: %s\n\n", e.ID, e.Title)
		vs := m.ran(e)
		t := sharesTable(e, vs, "kcp-go", func(v string, vc *VersionCounts) string {
			label := "`" + v + "`"
			if vc.KCPGo != "" && vc.KCPGo != v {
				label += fmt.Sprintf(" (ran %s)", vc.KCPGo)
			}
			return label
		})
		t.WriteMarkdown(&b)
		if p := charts[e.ID]; p != "" {
			fmt.Fprintf(&b, "\n![%s: class shares by kcp-go version](%s)\n", e.ID, p)
		}
		m.writeDifferences(&b, e, "versions")
	}
	return b.String()
}

// ran is the versions (or peers, or placements) of m that e ran on, in m's order.
func (m *Matrix) ran(e *MatrixExperiment) []string {
	var vs []string
	for _, v := range m.Versions {
		if e.Versions[v] != nil {
			vs = append(vs, v)
		}
	}
	return vs
}

// writeDifferences writes the differences of e's class shares between the runs of m (Differences),
// a line each, or a line saying there is none between what.
func (m *Matrix) writeDifferences(b *strings.Builder, e *MatrixExperiment, what string) {
	diffs := m.Differences(e)
	if len(diffs) == 0 {
		fmt.Fprintf(b, "\nNo class's share differs between %s beyond the 95%% intervals.\n", what)
		return
	}
	b.WriteString("\n")
	for _, d := range diffs {
		fmt.Fprintf(b, "- %s\n", d.Sentence(e))
	}
}

// sharesTable is a Markdown table of the runs vs of e (rows, each named by label under the header
// first) by classes: each cell the trials of the class and their share; a run that produced no
// counts shows its error.
func sharesTable(e *MatrixExperiment, vs []string, first string, label func(v string, vc *VersionCounts) string) *Table {
	cols := e.columns(vs)
	t := &Table{Columns: []Column{{Header: first, Left: true}, {Header: "trials"}}}
	for _, c := range cols {
		t.Columns = append(t.Columns, Column{Header: c})
	}
	for _, v := range vs {
		vc := e.Versions[v]
		if vc.Error != "" {
			t.Rows = append(t.Rows, Row{Cells: []string{label(v, vc), "–", firstLine(vc.Error)}})
			continue
		}
		row := []string{label(v, vc), fmt.Sprint(vc.Trials)}
		for _, c := range cols {
			k := vc.Count(c)
			row = append(row, fmt.Sprintf("%d (%s)", k, sharePct(k, vc.Trials)))
		}
		t.Rows = append(t.Rows, Row{Cells: row})
	}
	return t
}

// seedWidth is the width of the versions column of the terminal matrix table: the longest default
// release name, so that the tables of several runs line up.
const seedWidth = len("v5.4.20+incompatible")

// WriteMatrixText writes, per experiment, a table of versions by classes (the named classes, then
// FailedColumn) with why trials failed under each row, then the differences beyond the 95%
// intervals: what `kcplab matrix` prints.
func WriteMatrixText(w io.Writer, mx *Matrix) {
	for i := range mx.Experiments {
		e := &mx.Experiments[i]
		fmt.Fprintf(w, "\n%s: %s\n", e.ID, e.Title)
		cols := append(append([]string(nil), e.Classes...), FailedClass)
		t := countsTable(e, mx.Versions, cols, Column{Header: "kcp-go", Left: true, MinWidth: seedWidth}, 2, 0)
		for j, c := range cols {
			t.Columns[2+j].Header = columnName(c)
		}
		for j := range t.Rows {
			if vc := e.Versions[t.Rows[j].Cells[0]]; vc != nil && vc.Error == "" {
				for _, f := range vc.failures() {
					t.Rows[j].Below = append(t.Rows[j].Below, fmt.Sprintf("%d× %s", f.n, f.key))
				}
			}
		}
		t.WriteText(w, "  ")
		for _, d := range mx.Differences(e) {
			fmt.Fprintf(w, "  - %s\n", d.Sentence(e))
		}
	}
}

// countsTable is a table of rows (the runs of e present among rows, in order) by cols (trials of
// each class, counts only), after a first column and a trials column; a run that produced no counts
// shows its error instead. gap separates the class columns, of at least minWidth each.
func countsTable(e *MatrixExperiment, rows, cols []string, first Column, gap, minWidth int) *Table {
	t := &Table{Columns: []Column{first, {Header: "trials", MinWidth: 6, Gap: 1}}}
	for _, c := range cols {
		t.Columns = append(t.Columns, Column{Header: c, Gap: gap, MinWidth: minWidth})
	}
	for _, v := range rows {
		vc := e.Versions[v]
		switch {
		case vc == nil:
			continue
		case vc.Error != "":
			t.Rows = append(t.Rows, Row{Cells: []string{v}, Note: "error: " + firstLine(vc.Error)})
			continue
		}
		row := []string{v, fmt.Sprint(vc.Trials)}
		for _, c := range cols {
			row = append(row, fmt.Sprint(vc.Count(c)))
		}
		t.Rows = append(t.Rows, Row{Cells: row})
	}
	return t
}

// FailedColumn heads the FailedClass column of a terminal table; bisect takes it for FailedClass.
const FailedColumn = "failed"

// columnName is a class's name as a terminal table's column header.
func columnName(class string) string {
	if class == FailedClass {
		return FailedColumn
	}
	return class
}

type failureCount struct {
	key string
	n   int
}

// failures lists why the run's trials failed, the most frequent first (then by key).
func (v *VersionCounts) failures() []failureCount {
	out := make([]failureCount, 0, len(v.Failures))
	for k, n := range v.Failures {
		out = append(out, failureCount{k, n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].n != out[j].n {
			return out[i].n > out[j].n
		}
		return out[i].key < out[j].key
	})
	return out
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = "`" + s + "`"
	}
	return out
}
