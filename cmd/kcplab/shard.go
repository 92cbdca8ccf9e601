package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"kcplab/harness"
	"kcplab/internal/cli"
	"kcplab/matrix"
	"kcplab/report"
)

// shardFlags are -shard and -block of matrix and run, and run's -cells.
type shardFlags struct {
	shard string
	block int
	cells string // run only: the cells a matrix's child runs
}

func (s *shardFlags) register(fs *flag.FlagSet, run bool) {
	fs.StringVar(&s.shard, "shard", "", "run shard I/N of the cells only (I from 0 to N-1) and write DIR/part.json for kcplab merge; "+
		"default: from $"+matrix.IndexEnv+" and $"+matrix.ShardsEnv+" when both are set (a Kubernetes Indexed Job)")
	cli.IntVar(fs, &s.block, "block", 0, 0, 100000, "with -shard: trials per cell (0: all of an experiment's trials in one cell)")
	if run {
		fs.StringVar(&s.cells, "cells", "", "run only these cells, comma-separated: ID (all its trials) or ID:FROM-TO (trials FROM..TO, numbered and seeded as in the whole run); what a sharded matrix gives each version's kcplab")
	}
}

// resolve returns the shard of -shard, else of the environment (the zero Shard: no split).
func (s *shardFlags) resolve() (sh matrix.Shard, err error) {
	if s.shard != "" {
		sh, err = matrix.ParseShard(s.shard)
	} else if s.cells == "" { // a matrix's child inherits the Job's environment: its -cells decide
		sh, _, err = matrix.ShardFromEnv(os.Getenv)
	}
	switch {
	case err != nil:
		return sh, fmt.Errorf("-shard: %w", err)
	case s.block > 0 && !sh.Split():
		return sh, cli.Usage("-block cuts the cells of -shard: add -shard I/N")
	case s.cells != "" && sh.Split():
		return sh, cli.Usage("-cells and -shard both choose what runs: give one")
	}
	return sh, nil
}

// runShard runs -cells, or shard sh's cells, of exps and prints each cell's summary; for a shard it
// also writes DIR/part.json and DIR/matrix.json for kcplab merge.
func (f *runFlags) runShard(ctx context.Context, w io.Writer, exps []*harness.Experiment, kind harness.CaptureKind, s *shardFlags, sh matrix.Shard) error {
	var cells []matrix.Cell
	var part *matrix.Part
	var err error
	if s.cells != "" {
		cells, err = matrix.ParseCells(s.cells, exps, f.trials)
	} else {
		settings := matrix.Settings{Trials: f.trials, Block: s.block, Parallel: f.parallel, Seed: f.seed,
			Link: f.link.String(), Capture: string(kind), Discover: f.options(kind).Discover}
		if part, err = matrix.NewRunPart(sh, settings, exps); err == nil {
			f.seed, cells = part.Settings.Seed, part.Cells
			fmt.Fprintf(w, "shard %s: %d of %d cell(s), seed %d\n", sh, len(cells), len(part.Plan), f.seed)
		}
	}
	if err != nil {
		return err
	}
	var results []*harness.Result
	err = matrix.RunCells(ctx, exps, cells, f.options(kind), f.out, func(c matrix.Cell, res *harness.Result, path string) {
		fmt.Fprintf(w, "%s: %s (trials %d-%d, %d at once, %s capture)\n", c.Experiment, res.Experiment.Title, c.First+1, c.First+c.Count, res.Parallel, kind)
		report.WriteResultText(w, res, path)
		results = append(results, res)
	})
	if err != nil {
		return err
	}
	if part != nil {
		if err := matrix.WriteRunPart(f.out, part, exps); err != nil {
			return err
		}
		fmt.Fprintf(w, "wrote %s: merge the parts with kcplab merge -out DIR PARTDIR...\n", filepath.Join(f.out, matrix.PartFile))
	}
	return verdict(results)
}

func runMerge(ctx context.Context, c *cli.Call) error {
	out := c.Flags.String("out", "", "directory for the merged matrix.json and charts/ (required)")
	results := c.Flags.String("results", "", "also write the matrix section into this RESULTS.md, with one chart per experiment beside it under charts/")
	dirs, err := c.Parse()
	switch {
	case err != nil:
		return err
	case *out == "":
		return cli.Usage("-out DIR is required")
	case len(dirs) == 0:
		return cli.Usage("want the parts' directories: kcplab merge -out DIR PARTDIR...")
	}
	if err := cli.OutDir("out", *out); err != nil {
		return err
	}
	if err := cli.OutFile("results", *results); err != nil {
		return err
	}
	mx, err := matrix.Merge(dirs)
	if err != nil {
		return err
	}
	if err := matrix.WriteMerged(*out, mx); err != nil {
		return err
	}
	report.WriteMatrixText(c.Stdout, mx)
	fmt.Fprintf(c.Stdout, "merged %d part(s); wrote %s and charts under %s\n", len(dirs), filepath.Join(*out, "matrix.json"), filepath.Join(*out, "charts"))
	return writeMatrixResults(c.Stdout, *results, mx)
}

// writeMatrixResults writes the matrix section of the results file, when one is named.
func writeMatrixResults(w io.Writer, results string, mx *report.Matrix) error {
	if results == "" {
		return nil
	}
	if err := report.WriteMatrixResults(results, mx); err != nil {
		return err
	}
	fmt.Fprintf(w, "wrote the matrix section of %s\n", results)
	return nil
}
