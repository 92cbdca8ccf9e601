package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"

	"kcplab/internal/cli"
	"kcplab/report"
)

// runCompare compares the class counts of two runs (report.Compare) and prints them side by side;
// exit status 1 when a class's share differs.
func runCompare(ctx context.Context, c *cli.Call) error {
	alpha := c.Flags.Float64("alpha", 0.05, "the chance, over all the tests together, of naming a difference between two runs of one distribution (Bonferroni)")
	pos, err := c.Parse()
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return cli.Usage("compare takes two runs, A and B: each a matrix.json or the directory that holds one (got %d)", len(pos))
	}
	if !(*alpha > 0 && *alpha < 1) {
		return cli.Usage("-alpha: want a number between 0 and 1, got %g", *alpha)
	}
	var runs [2]*report.Matrix
	for i, p := range pos {
		if runs[i], err = readRun(p); err != nil {
			return cli.Usage("%v", err)
		}
	}
	cmp, err := report.Compare(runs[0], runs[1], pos[0], pos[1], *alpha)
	if err != nil {
		return cli.Usage("%v", err)
	}
	report.WriteComparisonText(c.Stdout, cmp)
	if differ, _ := cmp.Differing(); differ > 0 {
		return cli.Fail("%d class share(s) differ between A and B", differ)
	}
	return nil
}

// readRun reads path as a matrix.json, or path/matrix.json when path is a directory.
func readRun(path string) (*report.Matrix, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		path = filepath.Join(path, "matrix.json")
	}
	m, err := report.ReadMatrix(path)
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
