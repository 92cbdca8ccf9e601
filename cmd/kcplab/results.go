package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"kcplab/harness"
	"kcplab/internal/cli"
	"kcplab/report"
)

// runResults runs the experiments and writes a candidate RESULTS.md (-o, default OUT/RESULTS.md), one
// capture per class (-testdata, default OUT/testdata/ID/CLASS.pcapng) and the counts RESULTS.md reports
// beside them (TESTDATA/matrix.json: as -o keeps the blocks of experiments not run, these keep their
// counts from the -from file's testdata/matrix.json). It never touches the committed RESULTS.md and
// testdata/ unless -o and -testdata name them: `make results-update` copies a clean run's candidate
// over them.
func runResults(ctx context.Context, c *cli.Call) error {
	var f runFlags
	f.register(c.Flags, "out")
	testdata := c.Flags.String("testdata", "", "directory that receives one pcapng per class, as ID/CLASS.pcapng (default: OUT/testdata)")
	md := c.Flags.String("o", "", "the results file to write (default: OUT/RESULTS.md)")
	from := c.Flags.String("from", "RESULTS.md", "the results file whose prose, and blocks of experiments not run, -o keeps (the default is skipped when missing)")
	command := c.Flags.String("command", "kcplab results "+strings.Join(c.Args, " "), "the command to credit in the results file")
	ids, err := c.Parse()
	if err != nil {
		return err
	}
	if *testdata == "" {
		*testdata = filepath.Join(f.out, "testdata")
	}
	if *md == "" {
		*md = filepath.Join(f.out, "RESULTS.md")
	}
	exps, kind, err := f.selected(ids)
	if err != nil {
		return err
	}
	if err := cli.OutDir("testdata", *testdata); err != nil {
		return err
	}
	if err := cli.OutFile("o", *md); err != nil {
		return err
	}
	old, err := os.ReadFile(*from)
	if err != nil && (!errors.Is(err, os.ErrNotExist) || c.Set()["from"]) {
		return cli.Usage("-from: %v", err) // a file named that is not there is a typo, not a fresh start
	}
	var kept *report.Matrix // the counts of the experiments not run
	if len(ids) > 0 && old != nil {
		kept, err = report.ReadMatrix(filepath.Join(filepath.Dir(*from), "testdata", "matrix.json"))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return cli.Usage("-from: its counts: %v", err)
		}
	}
	results, run, runErr := f.runAll(ctx, c.Stdout, c.Stderr, exps, kind)
	var failed *cli.ExitError
	if runErr != nil && !errors.As(runErr, &failed) {
		return runErr // the run itself broke: nothing to report
	}
	counts := filepath.Join(*testdata, "matrix.json") // the counts RESULTS.md reports, for kcplab compare
	if err := os.MkdirAll(*testdata, 0o755); err != nil {
		return err
	}
	merged := run.Keeping(kept)
	if err := report.WriteMatrix(counts, merged); err != nil {
		return err
	}
	if mute := unanswered(merged, results); len(mute) > 0 {
		fmt.Fprintf(c.Stderr, "note: the summary of %s has no line for %s: their kept counts hold no answer; run them again to give them one\n",
			*md, strings.Join(mute, ", "))
	}
	ex, err := report.KeepExamples(*testdata, results)
	if err != nil {
		return err
	}
	if err := report.WriteResults(*md, old, results, merged, ex, report.MetaNow(*command)); err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "wrote %s, %d example captures under %s and the run's counts, %s\n", *md, len(ex), *testdata, counts)
	return runErr
}

// unanswered lists the experiments of counts that results did not run and whose counts hold no answer
// (counts written before they kept one): the summary has no line for them.
func unanswered(counts *report.Matrix, results []*harness.Result) []string {
	ran := map[string]bool{}
	for _, r := range results {
		ran[r.Experiment.ID] = true
	}
	var ids []string
	for _, e := range counts.Experiments {
		if vc := e.Versions[counts.Versions[0]]; !ran[e.ID] && (vc == nil || vc.Answer == "") {
			ids = append(ids, e.ID)
		}
	}
	return ids
}
