package main

import (
	"context"

	"kcplab/internal/cli"
	"kcplab/report"
)

// runCompare compares the class counts of two sides, each one run or several (report.Compare), and
// prints them side by side; exit status 1 when a class's share differs.
func runCompare(ctx context.Context, c *cli.Call) error {
	alpha := c.Flags.Float64("alpha", 0.05, "the chance, over all the tests together, of naming a difference between two runs of one distribution (Bonferroni)")
	changes := c.Flags.Bool("changes", false, "show only the classes with p below alpha on their own, and the line that sums up")
	pos, err := c.Parse()
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return cli.Usage("compare takes two sides, A and B: each a run (a matrix.json or the directory that holds one) or several runs, comma-separated (got %d)", len(pos))
	}
	if !(*alpha > 0 && *alpha < 1) {
		return cli.Usage("-alpha: want a number between 0 and 1, got %g", *alpha)
	}
	var sides [2]report.Side
	for i, list := range pos {
		sides[i].Name = list
		for _, p := range cli.SplitList(list) {
			m, err := report.ReadRun(p)
			if err != nil {
				return cli.Usage("%v", err)
			}
			sides[i].Runs = append(sides[i].Runs, m)
		}
	}
	cmp, err := report.Compare(sides[0], sides[1], *alpha)
	if err != nil {
		return cli.Usage("%v", err)
	}
	report.WriteComparisonText(c.Stdout, cmp, *changes)
	if differ, _ := cmp.Differing(); differ > 0 {
		return cli.Fail("%d class share(s) differ between A and B", differ)
	}
	return nil
}
