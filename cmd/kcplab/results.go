package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"kcplab/report"
)

func runResults(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("results", stderr)
	var f runFlags
	f.register(fs, "out")
	testdata := fs.String("testdata", "testdata", "directory that keeps one pcapng per class")
	md := fs.String("o", "RESULTS.md", "the results file to regenerate (prose outside the generated blocks is kept)")
	command := fs.String("command", "", "the command to credit in RESULTS.md (default: this command line)")
	if err := parse(fs, args); err != nil {
		return err
	}
	exps, kind, err := f.selected(fs.Args())
	if err != nil {
		return err
	}
	results, runErr := f.runAll(stdout, exps, kind)
	var exitErr *exitError
	if runErr != nil && !errors.As(runErr, &exitErr) {
		return runErr // the run itself broke: nothing to report
	}
	ex, err := report.KeepExamples(*testdata, results)
	if err != nil {
		return err
	}
	cmd := *command
	if cmd == "" {
		cmd = "kcplab results " + strings.Join(args, " ")
	}
	meta := report.Meta{Command: strings.TrimSpace(cmd), Date: time.Now(), GoVersion: runtime.Version(),
		Host: fmt.Sprintf("%s/%s, %d CPUs", runtime.GOOS, runtime.GOARCH, runtime.NumCPU())}
	blocks := map[string]string{"meta": report.MetaBlock(meta)}
	ids := []string{"meta"}
	titles := map[string]string{"meta": "# kcplab results"}
	for _, r := range results {
		blocks[r.Experiment.ID] = report.Block(r, ex)
		ids = append(ids, r.Experiment.ID)
		titles[r.Experiment.ID] = fmt.Sprintf("## %s: %s", r.Experiment.ID, r.Experiment.Title)
	}
	old, err := os.ReadFile(*md)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	doc := report.Update(old, ids, blocks, func(id string) string { return titles[id] })
	if err := os.WriteFile(*md, doc, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s and %d example captures under %s\n", *md, len(ex), *testdata)
	return runErr
}
