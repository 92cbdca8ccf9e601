package report

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"kcplab/harness"
)

// WriteResultText prints an experiment's result as kcplab run does: each class's count and share,
// the failed and re-run trials with their kept captures, the answer, the timing verdicts that did
// not pass, the load, and where the summary is.
func WriteResultText(w io.Writer, res *harness.Result, summaryPath string) {
	n := len(res.Trials)
	classes := append(slices.Clone(res.Experiment.Classes), res.Discovered()...)
	width := 0
	for _, c := range classes {
		width = max(width, len(c.Name))
	}
	for _, c := range classes {
		k := res.Count(c)
		fmt.Fprintf(w, "  %-*s %4d/%d (%5.1f%%)\n", width, c.Name, k, n, 100*float64(k)/float64(max(n, 1)))
	}
	for _, t := range res.Failed() {
		fmt.Fprintf(w, "  FAILED trial %d: %s\n", t.Trial, indent(t.Err.Error()))
		if t.Pcapng != "" {
			fmt.Fprintf(w, "    kept: %s\n", t.Pcapng)
		}
	}
	for _, c := range res.Crossed() {
		fmt.Fprintf(w, "  re-run: %s\n    kept: %s\n", c.Error(), c.Pcapng)
	}
	if res.Experiment.Answer != nil {
		fmt.Fprintf(w, "  answer: %s\n", res.Experiment.Answer(res))
	}
	if k := len(res.TimingTrials); k > 0 {
		fmt.Fprintf(w, "  %d more trial(s) for timing only: stalls of the process had left too few values to judge\n", k)
	}
	for _, v := range res.Timing {
		if !v.OK || len(v.Outliers) > 0 {
			fmt.Fprintf(w, "  timing %s\n", v)
		}
	}
	if load := res.Load().String(); load != "" {
		fmt.Fprintf(w, "  %s\n", load)
	}
	fmt.Fprintf(w, "  %.1fs; pcapng files and summary: %s\n", res.Elapsed.Seconds(), filepath.Dir(summaryPath))
}

func indent(s string) string { return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ") }
