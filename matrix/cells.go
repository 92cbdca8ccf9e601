package matrix

import (
	"context"
	"fmt"

	"kcplab/harness"
	"kcplab/internal/kcpgo"
	"kcplab/report"
)

// RunCells runs cells of the experiments es in this process (kcplab run -shard or -cells), one
// harness.Run per cell with the cell's trials, numbered as in the whole run (opts' Trials and
// First are set per cell), and writes each cell's captures and summary.json under cell.Dir(out).
// before is called with a cell's directory before it runs; after with its result and the path of
// its summary.json.
func RunCells(ctx context.Context, es []*harness.Experiment, cells []Cell, opts harness.RunOptions, out string,
	after func(c Cell, res *harness.Result, summary string)) error {
	byID := map[string]*harness.Experiment{}
	for _, e := range es {
		byID[e.ID] = e
	}
	for _, c := range cells {
		e := byID[c.Experiment]
		if e == nil {
			return fmt.Errorf("cell %s: no experiment %q", c, c.Experiment)
		}
		if err := harness.RemoveTrials(c.Dir(out)); err != nil {
			return err
		}
		o := opts
		o.Trials, o.First, o.OutDir = c.Count, c.First, c.OutDir(out)
		res, err := harness.Run(ctx, e, o)
		if err != nil {
			return err
		}
		path, err := res.Summary().Write(c.Dir(out))
		if err != nil {
			return err
		}
		after(c, res, path)
	}
	return nil
}

// NewRunPart is shard sh's part of a kcplab run of es with settings (its Experiments filled in from
// es; a Seed of 0 derived from the settings, so that every shard has the same one).
func NewRunPart(sh Shard, settings Settings, es []*harness.Experiment) (*Part, error) {
	settings.Command, settings.Experiments = "run", nil
	for _, e := range es {
		settings.Experiments = append(settings.Experiments, e.ID)
	}
	if settings.Seed == 0 {
		settings.Seed = SplitSeed(settings)
	}
	return NewPart(sh, settings, Cells(es, nil, settings.Trials, settings.Block))
}

// WriteRunPart writes a shard of kcplab run: out/part.json and out/matrix.json, a matrix of one
// version (this binary's kcp-go) that holds the counts of the part's cells.
func WriteRunPart(out string, p *Part, es []*harness.Experiment) error {
	v := kcpgo.Version()
	mx := &report.Matrix{Versions: []string{v}, Trials: p.Settings.Trials}
	counts := cellCounts(out, p.Cells)
	for _, e := range es {
		me := report.ExperimentOf(e)
		if vc := counts[e.ID]; vc != nil {
			me.Versions[v] = vc
		}
		mx.Experiments = append(mx.Experiments, me)
	}
	return p.Write(out, mx)
}
