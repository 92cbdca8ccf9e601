package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"kcplab/report"
)

// runResults runs the experiments and writes a candidate RESULTS.md (-o, default OUT/RESULTS.md) and one
// capture per class (-testdata, default OUT/testdata/ID/CLASS.pcapng). It never touches the committed
// RESULTS.md and testdata/ unless -o and -testdata name them: `make results-update` copies a clean run's
// candidate over them.
func runResults(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	var f runFlags
	f.register(fs, "out")
	testdata := fs.String("testdata", "", "directory that receives one pcapng per class, as ID/CLASS.pcapng (default: OUT/testdata)")
	md := fs.String("o", "", "the results file to write (default: OUT/RESULTS.md)")
	from := fs.String("from", "RESULTS.md", "the results file whose prose, and blocks of experiments not run, -o keeps (skipped when missing)")
	command := fs.String("command", "", "the command to credit in the results file (default: this command line)")
	ids, err := parse(fs, args)
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
	old, err := os.ReadFile(*from)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return usageErr("-from: %v", err)
	}
	results, runErr := f.runAll(stdout, stderr, exps, kind)
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
	if err := report.WriteResults(*md, old, results, ex, meta); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s and %d example captures under %s\n", *md, len(ex), *testdata)
	return runErr
}
