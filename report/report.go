// Package report renders experiment results as the generated blocks of RESULTS.md and keeps one
// capture per outcome class under testdata/.
package report

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"kcplab/harness"
	"kcplab/internal/kcpgo"
)

// Meta describes the run that produced the results.
type Meta struct {
	Command   string    // the command that produced it, e.g. "make results"
	Date      time.Time // when it ran
	GoVersion string
	Host      string // e.g. "linux/amd64, 2 CPUs, GOMAXPROCS 2"
}

// MetaNow is the Meta of a run of command that ends now, on this machine.
func MetaNow(command string) Meta {
	return Meta{Command: strings.TrimSpace(command), Date: time.Now(), GoVersion: runtime.Version(),
		Host: fmt.Sprintf("%s/%s, %d CPUs, GOMAXPROCS %d", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0))}
}

// Examples maps "ID/class" to the kept pcapng path (relative to the repository root).
type Examples map[string]string

// KeepExamples copies the first capture of every class of every result to dir/ID/<class>.pcapng,
// removing what an earlier run left there, and returns where each one went.
func KeepExamples(dir string, results []*harness.Result) (Examples, error) {
	out := Examples{}
	for _, r := range results {
		sub := filepath.Join(dir, r.Experiment.ID)
		if err := os.RemoveAll(sub); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return nil, err
		}
		for _, c := range r.Experiment.Classes {
			ex := r.Example(c)
			if ex == nil || ex.Pcapng == "" {
				continue
			}
			dst := filepath.Join(sub, Slug(c.Name)+".pcapng")
			if err := copyFile(ex.Pcapng, dst); err != nil {
				return nil, err
			}
			out[r.Experiment.ID+"/"+c.Name] = dst
		}
	}
	return out, nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// Slug turns a class name into a file name: "response lost at Close" -> "response-lost-at-close".
// Every run of characters other than a-z and 0-9 becomes one "-", none at either end.
func Slug(s string) string {
	var b strings.Builder
	gap := false
	for _, r := range strings.ToLower(s) {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') {
			gap = true
			continue
		}
		if gap && b.Len() > 0 {
			b.WriteByte('-')
		}
		gap = false
		b.WriteRune(r)
	}
	return b.String()
}

// Block renders the generated block of one experiment, from the run m says.
func Block(r *harness.Result, ex Examples, m Meta) string {
	e := r.Experiment
	var b strings.Builder
	n := len(r.Trials)
	fmt.Fprintf(&b, "**Question.** %s\n\n", e.Question)
	if e.Answer != nil {
		fmt.Fprintf(&b, "**Answer.** %s\n\n", e.Answer(r))
	}
	fmt.Fprintf(&b, "%d trials, %d at once", n, r.Parallel)
	// Shares of a race can move with what ran beside the experiment (RESULTS.md, p003), so say it.
	if c := r.Concurrency; c != nil && c.ExperimentsSideBySide > 1 {
		fmt.Fprintf(&b, " beside up to %d other experiments (%.0f trials in flight on average)", c.ExperimentsSideBySide-1, c.InFlightMean)
	}
	// The block says which run made it: a run of some experiments keeps the others' blocks.
	fmt.Fprintf(&b, ", %s capture, %.1f s, by `%s` on %s.", r.Capture, r.Elapsed.Seconds(), m.Command, m.when())
	if !e.Link.IsZero() {
		fmt.Fprintf(&b, " Link between the peers: `%s` (run seed %d; trial n used seed+n-1).", e.Link, r.Seed)
	}
	b.WriteString("\n\n")
	b.WriteString("| class | trials | share | what it means | capture |\n|---|---:|---:|---|---|\n")
	for _, c := range e.Classes {
		k := r.Count(c)
		file := "—"
		if p, ok := ex[e.ID+"/"+c.Name]; ok {
			file = fmt.Sprintf("[%s](%s)", filepath.Base(p), filepath.ToSlash(p))
		}
		fmt.Fprintf(&b, "| %s | %d | %.1f%% | %s | %s |\n", c.Name, k, pct(k, n), c.Description, file)
	}
	if f := len(r.Failed()); f > 0 {
		fmt.Fprintf(&b, "| *failed: fit no class or broke an invariant* | %d | %.1f%% | | |\n", f, pct(f, n))
	}
	b.WriteString("\n")
	crossed, frozen := 0, 0
	for _, c := range r.Crossed() {
		if c.Froze != nil {
			frozen++
		} else {
			crossed++
		}
	}
	if crossed > 0 {
		fmt.Fprintf(&b, "%d attempt(s) crossed by another trial's datagram and run again (kcp-go's shared post-process workers; see the README, *Timing*).\n\n", crossed)
	}
	if frozen > 0 {
		fmt.Fprintf(&b, "%d attempt(s) failed while the process was stalled for at least the sessions' minimum RTO, and were run again (harness/freeze.go).\n\n", frozen)
	}
	if len(e.Invariants) > 0 {
		b.WriteString("Invariants checked on every trial:\n\n")
		for _, inv := range e.Invariants {
			fmt.Fprintf(&b, "- %s\n", inv.Name)
		}
		b.WriteString("\n")
	}
	if len(r.Timing) > 0 {
		b.WriteString(timing(r))
	}
	if len(e.Measures) > 0 {
		b.WriteString(measures(r))
	}
	for _, c := range e.Classes {
		t := r.Example(c)
		if t == nil {
			continue
		}
		fmt.Fprintf(&b, "#### %s (trial %d)\n\n", c.Name, t.Trial)
		b.WriteString("```mermaid\n" + Mermaid(t.Trace) + "```\n\n")
		b.WriteString("```text\n" + t.Trace.Timeline() + "```\n\n")
	}
	return b.String()
}

func pct(k, n int) float64 {
	if n == 0 {
		return 0
	}
	return 100 * float64(k) / float64(n)
}

// timing renders the timing verdicts: each class's timing expectation judged over its trials.
func timing(r *harness.Result) string {
	var b strings.Builder
	b.WriteString("Timing, judged per class over its trials (median within tolerance, and at least ")
	fmt.Fprintf(&b, "%.0f%% of the values no measured stall explains within it; see README, \"Timing\"):\n\n", 100*harness.MinShareWithin)
	b.WriteString("| class | expectation | trials | median | within tolerance | late by a stall | verdict |\n|---|---|---:|---:|---:|---:|---|\n")
	for _, v := range r.Timing {
		verdict := "ok"
		switch {
		case !v.Judged && v.Why == "":
			verdict = "too few to judge"
		case !v.Judged:
			verdict = "too few to judge: " + v.Why
		case !v.OK:
			verdict = "**failed**: " + v.Why
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %.1f ms | %d/%d | %d | %s |\n", v.Class, strings.ReplaceAll(v.Timing, "|", "\\|"),
			v.N, v.MedianMs, v.Within, v.N-v.Explained, v.Explained, verdict)
	}
	if load := r.Load().String(); load != "" {
		b.WriteString("\n" + load + ".\n")
	}
	return b.String() + "\n"
}

// Summary renders the opening summary of RESULTS.md from a run's counts (one version): each
// experiment's answer, in the matrix's order, for those whose run gave one.
func Summary(m *Matrix) string {
	var b strings.Builder
	if len(m.Versions) != 1 {
		return ""
	}
	for _, e := range m.Experiments {
		if vc := e.Versions[m.Versions[0]]; vc != nil && vc.Answer != "" {
			fmt.Fprintf(&b, "- **%s** (%d trials): %s\n", e.ID, vc.Trials, vc.Answer)
		}
	}
	return b.String()
}

// measures renders a table of each measure per class: trials measured, min, median, max.
func measures(r *harness.Result) string {
	var b strings.Builder
	b.WriteString("| measure | class | trials | min | median | max |\n|---|---|---:|---:|---:|---:|\n")
	for _, m := range r.Experiment.Measures {
		for _, c := range r.Experiment.Classes {
			var vals []float64
			for _, t := range r.Of(c) {
				if v, ok := m.Fn(t.Trace); ok {
					vals = append(vals, v)
				}
			}
			if len(vals) == 0 {
				continue
			}
			sort.Float64s(vals)
			fmt.Fprintf(&b, "| %s | %s | %d | %s | %s | %s |\n", m.Name, c.Name, len(vals),
				num(vals[0]), num(vals[len(vals)/2]), num(vals[len(vals)-1]))
		}
	}
	return b.String() + "\n"
}

func num(v float64) string {
	if v == float64(int64(v)) {
		return fmt.Sprint(int64(v))
	}
	return fmt.Sprintf("%.1f", v)
}

// Mermaid renders a trace's segments as a Mermaid sequence diagram.
func Mermaid(tr *harness.Trace) string {
	var b strings.Builder
	b.WriteString("sequenceDiagram\n    participant C as client\n    participant S as server\n")
	if slices.ContainsFunc(tr.Segments, func(s harness.Seg) bool { return s.Dir == harness.DirUnknown }) {
		b.WriteString("    participant X as other addresses\n") // e.g. garbage-datagram's strays
	}
	for _, s := range tr.Segments {
		from, to := "C", "S"
		switch s.Dir {
		case harness.S2C:
			from, to = "S", "C"
		case harness.DirUnknown:
			from, to = "X", "S"
			if s.Datagram >= 0 && s.Datagram < len(tr.Datagrams) && tr.Datagrams[s.Datagram].Src == tr.Server {
				from, to = "S", "X"
			}
		}
		arrow, note := "->>", ""
		if s.Dropped != "" {
			arrow, note = "-x", " (dropped by the link: "+s.Dropped+")"
		}
		fmt.Fprintf(&b, "    %s%s%s: %.1f ms %s sn=%d una=%d len=%d%s\n", from, arrow, to, float64(s.Time)/1e6, s.Cmd, s.Sn, s.Una, s.Len, note)
	}
	if len(tr.Segments) == 0 {
		b.WriteString("    Note over C,S: nothing on the wire\n")
	}
	return b.String()
}

// MetaBlock renders the block that says how the results were produced.
func MetaBlock(m Meta) string {
	return fmt.Sprintf("Last written by `%s` on %s with kcp-go %s, %s, %s; each experiment's section names the run that made it. "+
		"Do not edit between the kcplab markers: the next run rewrites them.\n",
		m.Command, m.when(), kcpgo.Version(), m.GoVersion, m.Host)
}

// when is the run's date as the results print it.
func (m Meta) when() string { return m.Date.UTC().Format("2006-01-02 15:04 MST") }

func markers(id string) (string, string) {
	return "<!-- kcplab:begin " + id + " -->", "<!-- kcplab:end " + id + " -->"
}

// blockAt finds doc's generated block id: from its begin marker (at start) to the end of its end
// marker (end), and its body between them; ok is false when doc has no such block.
func blockAt(doc []byte, id string) (start, end int, body []byte, ok bool) {
	begin, stop := markers(id)
	i, j := bytes.Index(doc, []byte(begin)), bytes.Index(doc, []byte(stop))
	if i < 0 || j <= i {
		return 0, 0, nil, false
	}
	return i, j + len(stop), doc[i+len(begin) : j], true
}

// Update replaces the generated blocks of doc (between "<!-- kcplab:begin ID -->" and
// "<!-- kcplab:end ID -->") with blocks, keeping all prose around them. A block without markers in doc
// is appended under a heading made by title(id).
func Update(doc []byte, ids []string, blocks map[string]string, title func(id string) string) []byte {
	out := doc
	for _, id := range ids {
		begin, end := markers(id)
		body := begin + "\n" + blocks[id] + end
		if i, j, _, ok := blockAt(out, id); ok {
			out = append(append(append([]byte{}, out[:i]...), body...), out[j:]...)
			continue
		}
		if len(out) > 0 && !bytes.HasSuffix(out, []byte("\n\n")) {
			out = append(out, '\n')
		}
		out = append(out, title(id)+"\n\n"+body+"\n"...)
	}
	return out
}

// UpdateFile replaces the generated block id of the results file at path with body, or appends it
// under title when the file has no such block (a missing file is an empty one).
func UpdateFile(path, id, body, title string) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	doc := Update(old, []string{id}, map[string]string{id: body}, func(string) string { return title })
	return os.WriteFile(path, doc, 0o644)
}

// WriteResults writes a run's results file at path: old's prose, and the blocks of experiments results
// does not hold, kept; the meta, the summary (from counts: the run's, with the experiments it kept,
// Matrix.Keeping) and each of results' blocks made anew, with the example captures of ex linked
// relative to path's folder.
func WriteResults(path string, old []byte, results []*harness.Result, counts *Matrix, ex Examples, m Meta) error {
	// Relative links hold both where the file is written (out/RESULTS.md -> testdata/ID/x.pcapng =
	// out/testdata/ID/x.pcapng) and once it and the captures are copied to the repository root.
	rel := Examples{}
	for k, p := range ex {
		rel[k] = p
		if r, err := filepath.Rel(filepath.Dir(path), p); err == nil {
			rel[k] = r
		}
	}
	blocks := map[string]string{"meta": MetaBlock(m), "summary": Summary(counts)}
	ids := []string{"meta", "summary"}
	titles := map[string]string{"meta": "# kcplab results", "summary": "## In short"}
	for _, r := range results {
		e := r.Experiment
		blocks[e.ID], titles[e.ID] = Block(r, rel, m), fmt.Sprintf("## %s: %s", e.ID, e.Title)
		ids = append(ids, e.ID)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, Update(old, ids, blocks, func(id string) string { return titles[id] }), 0o644)
}

// WriteMatrixResults writes the matrix section into the results file at path (the generated block
// "matrix") and its charts under charts/ beside it.
func WriteMatrixResults(path string, mx *Matrix) error {
	dir := filepath.Dir(path)
	charts, err := Charts(mx, filepath.Join(dir, "charts"), dir, "matrix")
	if err != nil {
		return err
	}
	return UpdateFile(path, "matrix", MatrixSection(mx, charts), "## kcp-go versions")
}

// WritePairsResults writes a pairs run into the RESULTS.md at path: its grids in the block named
// block (under heading title when the document has no such block yet), and a chart per experiment,
// one bar per pair, under charts/ beside it, named after the block.
func WritePairsResults(path string, mx *Matrix, peers []string, block, title string) error {
	dir := filepath.Dir(path)
	charts, err := Charts(mx, filepath.Join(dir, "charts"), dir, block)
	if err != nil {
		return err
	}
	return UpdateFile(path, block, PairsSection(mx, peers, charts), title)
}
