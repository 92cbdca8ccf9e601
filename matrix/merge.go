package matrix

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"kcplab/report"
)

// Part is part.json: what one shard of a split run is, written beside its matrix.json.
type Part struct {
	Shard    string   `json:"shard"` // I/N
	Index    int      `json:"index"` // I
	Of       int      `json:"of"`    // N
	Build    string   `json:"build"` // the kcplab that ran it (BuildID)
	Settings Settings `json:"settings"`
	Plan     []Cell   `json:"plan"`  // every cell of the run, in order
	Cells    []Cell   `json:"cells"` // this shard's
}

// PartFile is the name of a part's record in its directory.
const PartFile = "part.json"

// ErrMerge is the error of parts that cannot be merged: missing, duplicate, from different builds
// or settings, or unreadable.
var ErrMerge = errors.New("cannot merge")

// NewPart is shard s's record of a run of plan with settings, by this build.
func NewPart(s Shard, settings Settings, plan []Cell) (*Part, error) {
	build, err := BuildID()
	if err != nil {
		return nil, err
	}
	return &Part{Shard: s.String(), Index: s.I, Of: s.N, Build: build, Settings: settings, Plan: plan, Cells: s.Pick(plan)}, nil
}

// Write writes dir/part.json and dir/matrix.json (the counts of the part's cells).
func (p *Part) Write(dir string, mx *report.Matrix) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := report.WriteMatrix(filepath.Join(dir, "matrix.json"), mx); err != nil {
		return err
	}
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, PartFile), append(b, '\n'), 0o644)
}

// readPart reads dir's part.json and matrix.json.
func readPart(dir string) (*Part, *report.Matrix, error) {
	b, err := os.ReadFile(filepath.Join(dir, PartFile))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s is not a part of a split run (kcplab matrix -shard I/N -out DIR): %v", ErrMerge, dir, err)
	}
	var p Part
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %v", ErrMerge, filepath.Join(dir, PartFile), err)
	}
	if p.Of < 1 || p.Index < 0 || p.Index >= p.Of {
		return nil, nil, fmt.Errorf("%w: %s: shard %q out of range", ErrMerge, filepath.Join(dir, PartFile), p.Shard)
	}
	mx, err := report.ReadMatrix(filepath.Join(dir, "matrix.json"))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %v", ErrMerge, dir, err)
	}
	return &p, mx, nil
}

// Merge reads the parts in dirs, checks that they are every shard of one run, each once, by one
// build with one set of settings, and returns the matrix one unsplit run would have written: per
// experiment and version, the counts of its cells summed. Any problem wraps ErrMerge; nothing is
// written.
func Merge(dirs []string) (*report.Matrix, error) {
	if len(dirs) == 0 {
		return nil, fmt.Errorf("%w: no part given", ErrMerge)
	}
	parts := make([]*Part, len(dirs))
	mxs := make([]*report.Matrix, len(dirs))
	for i, d := range dirs {
		var err error
		if parts[i], mxs[i], err = readPart(d); err != nil {
			return nil, err
		}
	}
	if err := checkParts(dirs, parts); err != nil {
		return nil, err
	}
	first := mxs[0]
	out := &report.Matrix{Versions: first.Versions, Trials: first.Trials}
	for _, e := range first.Experiments {
		out.Experiments = append(out.Experiments, report.MatrixExperiment{ID: e.ID, Title: e.Title, Classes: e.Classes,
			Descriptions: e.Descriptions, Versions: map[string]*report.VersionCounts{}})
	}
	// The order of the parts does not change the result: they are merged by shard index.
	order := make([]int, len(parts))
	for i, p := range parts {
		order[p.Index] = i
	}
	for _, i := range order {
		if !slices.Equal(mxs[i].Versions, out.Versions) || len(mxs[i].Experiments) != len(out.Experiments) {
			return nil, fmt.Errorf("%w: %s's matrix.json has other versions or experiments than its part.json's settings", ErrMerge, dirs[i])
		}
		for j, e := range mxs[i].Experiments {
			m := &out.Experiments[j]
			if e.ID != m.ID {
				return nil, fmt.Errorf("%w: %s's matrix.json has experiment %s where the others have %s", ErrMerge, dirs[i], e.ID, m.ID)
			}
			for v, vc := range e.Versions {
				if err := addCounts(m, v, vc); err != nil {
					return nil, fmt.Errorf("%w: %s: %s with %s: %v", ErrMerge, dirs[i], e.ID, v, err)
				}
			}
		}
	}
	return out, nil
}

// checkParts checks that parts are every shard of one run, each once, by one build with one set of
// settings, and that their cells are the run's, each once.
func checkParts(dirs []string, parts []*Part) error {
	p0 := parts[0]
	settings0, _ := json.Marshal(p0.Settings)
	seen := map[int]string{}
	cells := map[Cell]string{}
	for i, p := range parts {
		switch settings, _ := json.Marshal(p.Settings); {
		case p.Build != p0.Build:
			return fmt.Errorf("%w: %s was run by kcplab build %s, %s by %s", ErrMerge, dirs[i], p.Build, dirs[0], p0.Build)
		case string(settings) != string(settings0):
			return fmt.Errorf("%w: %s was run with other settings than %s: %s against %s", ErrMerge, dirs[i], dirs[0], settings, settings0)
		case p.Of != p0.Of:
			return fmt.Errorf("%w: %s is shard %s, of another split than %s (shard %s)", ErrMerge, dirs[i], p.Shard, dirs[0], p0.Shard)
		case !slices.Equal(p.Plan, p0.Plan):
			return fmt.Errorf("%w: %s's cells are not those of %s", ErrMerge, dirs[i], dirs[0])
		}
		if d, dup := seen[p.Index]; dup {
			return fmt.Errorf("%w: shard %s twice: %s and %s", ErrMerge, p.Shard, d, dirs[i])
		}
		seen[p.Index] = dirs[i]
		if want := (Shard{I: p.Index, N: p.Of}).Pick(p.Plan); !slices.Equal(p.Cells, want) {
			return fmt.Errorf("%w: %s's cells are not shard %s's", ErrMerge, dirs[i], p.Shard)
		}
		for _, c := range p.Cells {
			if d, dup := cells[c]; dup {
				return fmt.Errorf("%w: cell %s of %s in %s and %s", ErrMerge, c, c.Version, d, dirs[i])
			}
			cells[c] = dirs[i]
		}
	}
	var missing []string
	for i := range p0.Of {
		if _, ok := seen[i]; !ok {
			missing = append(missing, fmt.Sprintf("%d/%d", i, p0.Of))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: missing shard(s) %s of %d (have %d part(s))", ErrMerge, strings.Join(missing, ", "), p0.Of, len(parts))
	}
	if len(cells) != len(p0.Plan) {
		return fmt.Errorf("%w: the parts hold %d of the run's %d cells", ErrMerge, len(cells), len(p0.Plan))
	}
	return nil
}

// addCounts adds one part's counts of experiment m with version v to the merged ones. A run that
// produced no counts keeps its error; two parts that ran different kcp-go for v cannot be merged.
func addCounts(m *report.MatrixExperiment, v string, vc *report.VersionCounts) error {
	if vc == nil {
		return nil
	}
	have := m.Versions[v]
	if have == nil {
		c := *vc
		c.Classes = maps.Clone(vc.Classes)
		c.Failures = maps.Clone(vc.Failures)
		m.Versions[v] = &c
		return nil
	}
	if have.KCPGo != vc.KCPGo && have.KCPGo != "" && vc.KCPGo != "" {
		return fmt.Errorf("the parts ran kcp-go %s and %s", have.KCPGo, vc.KCPGo)
	}
	if have.Error != "" || vc.Error != "" {
		if have.Error == "" {
			*have = report.VersionCounts{Error: vc.Error, Summary: vc.Summary}
		}
		return nil
	}
	have.Add(vc)
	have.Summary = "" // several cells: each part's matrix.json names its own
	return nil
}

// WriteMerged writes a merged matrix as one unsplit run writes it: out/matrix.json and its charts
// under out/charts/. It writes both in a new directory beside out first, then moves them into out,
// so that a failure leaves out as it was.
func WriteMerged(out string, mx *report.Matrix) error {
	parent := filepath.Dir(filepath.Clean(out))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, ".kcplab-merge-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := report.WriteMatrix(filepath.Join(tmp, "matrix.json"), mx); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(tmp, "charts"), 0o755); err != nil {
		return err
	}
	if _, err := report.Charts(mx, filepath.Join(tmp, "charts"), tmp, "matrix"); err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	if err := os.RemoveAll(filepath.Join(out, "charts")); err != nil {
		return err
	}
	if err := os.Rename(filepath.Join(tmp, "charts"), filepath.Join(out, "charts")); err != nil {
		return err
	}
	return os.Rename(filepath.Join(tmp, "matrix.json"), filepath.Join(out, "matrix.json"))
}
