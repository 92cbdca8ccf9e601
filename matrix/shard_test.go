package matrix

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"kcplab/harness"
	"kcplab/report"
)

func TestParseShard(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want Shard
		bad  string // a part of the error; "" when it parses
	}{
		{"0/1", Shard{0, 1}, ""},
		{"3/4", Shard{3, 4}, ""},
		{" 2 / 8 ", Shard{2, 8}, ""},
		{"4/4", Shard{}, "I 4, want 0..3"},
		{"-1/4", Shard{}, "I -1"},
		{"0/0", Shard{}, "N 0"},
		{"1", Shard{}, "want I/N"},
		{"a/4", Shard{}, "two integers"},
		{"1/4/2", Shard{}, "two integers"},
		{"0/100000", Shard{}, "N 100000"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseShard(tc.in)
			if badShard(t, err, tc.bad) {
				return
			}
			assert.Equal(t, tc.want, got)
			assert.True(t, got.Split())
		})
	}
}

func TestShardFromEnv(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		index, count string
		want         Shard
		ok           bool
		bad          string
	}{
		{"neither", "", "", Shard{}, false, ""},
		{"both", "2", "4", Shard{2, 4}, true, ""},
		{"count alone is no shard", "", "4", Shard{}, false, ""},
		{"index without count", "2", "", Shard{}, false, ShardsEnv},
		{"index out of range", "4", "4", Shard{}, false, "I 4"},
		{"not a number", "x", "4", Shard{}, false, "two integers"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{IndexEnv: tc.index, ShardsEnv: tc.count}
			got, ok, err := ShardFromEnv(func(k string) string { return env[k] })
			if badShard(t, err, tc.bad) {
				return
			}
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.want, got)
		})
	}
}

// badShard checks err against bad, the text a bad shard's error must name ("": none), and reports
// whether it was one.
func badShard(t *testing.T, err error, bad string) bool {
	t.Helper()
	if bad == "" {
		require.NoError(t, err)
		return false
	}
	require.ErrorIs(t, err, ErrBadShard)
	assert.ErrorContains(t, err, bad)
	return true
}

// cellExperiments are experiments of 7, 5 and the default number of trials.
func cellExperiments() []*harness.Experiment {
	return []*harness.Experiment{{ID: "a", Trials: 7}, {ID: "b", Trials: 5}, {ID: "c"}}
}

// TestShardPartition: for N = 1..8, every cell is in exactly one shard, the shards differ in size by
// at most one cell, and the cells (so trial numbers) do not depend on N.
func TestShardPartition(t *testing.T) {
	t.Parallel()
	for _, block := range []int{0, 1, 3, 50} {
		cells := Cells(cellExperiments(), []string{"v1", "v2"}, 0, block)
		// Every trial of every experiment and version is in one cell.
		trials := map[string]int{}
		for _, c := range cells {
			trials[c.Experiment+"@"+c.Version] += c.Count
		}
		assert.Equal(t, map[string]int{"a@v1": 7, "a@v2": 7, "b@v1": 5, "b@v2": 5, "c@v1": harness.DefaultTrials, "c@v2": harness.DefaultTrials}, trials, "block %d", block)
		for n := 1; n <= 8; n++ {
			t.Run(fmt.Sprintf("block=%d/N=%d", block, n), func(t *testing.T) {
				t.Parallel()
				seen := map[Cell]int{}
				sizes := []int{}
				for i := range n {
					own := Shard{I: i, N: n}.Pick(cells)
					sizes = append(sizes, len(own))
					for _, c := range own {
						seen[c]++
					}
				}
				assert.Len(t, seen, len(cells))
				for _, c := range cells {
					assert.Equal(t, 1, seen[c], "cell %s %s", c, c.Version)
				}
				assert.LessOrEqual(t, slices.Max(sizes)-slices.Min(sizes), 1, "sizes %v", sizes)
			})
		}
	}
}

func TestParseCells(t *testing.T) {
	t.Parallel()
	es := cellExperiments()
	tests := []struct {
		in   string
		want []Cell
		bad  string
	}{
		{"a", []Cell{{Experiment: "a", Count: 7, Whole: true}}, ""},
		{"a:3-5,b", []Cell{{Experiment: "a", First: 2, Count: 3}, {Experiment: "b", Count: 5, Whole: true}}, ""},
		{"b:1-5", []Cell{{Experiment: "b", Count: 5, Whole: true}}, ""},
		{"a:0-2", nil, "1 <= FROM <= TO <= 7"},
		{"a:3-8", nil, "1 <= FROM <= TO <= 7"},
		{"a:5-3", nil, "FROM <= TO"},
		{"z", nil, `no experiment "z"`},
		{",", nil, "no cell"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseCells(tc.in, es, 0)
			if tc.bad != "" {
				assert.ErrorContains(t, err, tc.bad)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			// What String writes, ParseCells reads back.
			back, err := ParseCells(cellList(got), es, 0)
			require.NoError(t, err)
			assert.Equal(t, got, back)
		})
	}
}

// splitRuns are the fake child's runs of the split tests: 7 trials each (the runner's -trials), with
// failed trials in one of them.
func splitRuns(v, id string) run {
	lost := harness.Failure{Kind: harness.FailInvariant, Invariant: "one session"}
	switch {
	case id == "p001":
		return run{classes: map[string]int{"echoed": 7}}
	case v == "v5.6.24":
		return run{classes: map[string]int{"delivered": 3, "lost": 2}, failed: []harness.Failure{lost, lost}}
	}
	return run{classes: map[string]int{"delivered": 6, "lost": 1}}
}

var splitVersions = []string{"v5.6.1", "v5.6.24", "v5.7.6"}

// splitParts runs the matrix split n ways in blocks of block trials and returns the parts' directories.
func splitParts(t *testing.T, n, block int) []string {
	t.Helper()
	return splitPartsWith(t, &fakeBuilder{}, n, block)
}

// splitPartsWith is splitParts with builder b.
func splitPartsWith(t *testing.T, b *fakeBuilder, n, block int) []string {
	t.Helper()
	var dirs []string
	for i := range n {
		r, _ := newRunner(t, b, &fakeChild{runs: splitRuns})
		r.Shard, r.Block = Shard{I: i, N: n}, block
		_, err := r.Matrix(t.Context(), splitVersions)
		require.NoError(t, err)
		dirs = append(dirs, r.Out)
	}
	return dirs
}

// TestMergeSplit: a matrix split 1, 2 or 4 ways, in blocks or not, merges into the unsplit run's
// matrix (but for the summaries' paths: a merged run has several per cell).
func TestMergeSplit(t *testing.T) {
	t.Parallel()
	r, _ := newRunner(t, &fakeBuilder{}, &fakeChild{runs: splitRuns})
	want, err := r.Matrix(t.Context(), splitVersions)
	require.NoError(t, err)
	for _, e := range want.Experiments {
		for _, vc := range e.Versions {
			vc.Summary = ""
		}
	}
	for _, tc := range []struct{ n, block int }{{1, 0}, {2, 0}, {4, 0}, {2, 3}, {4, 2}, {4, 7}} {
		t.Run(fmt.Sprintf("N=%d/block=%d", tc.n, tc.block), func(t *testing.T) {
			t.Parallel()
			dirs := splitParts(t, tc.n, tc.block)
			slices.Reverse(dirs) // the order of the parts does not matter
			got, err := Merge(dirs)
			require.NoError(t, err)
			for _, e := range got.Experiments {
				for _, vc := range e.Versions {
					vc.Summary = ""
				}
			}
			assert.Equal(t, want, got)
		})
	}
}

// TestMergeBrokenVersion: a version that does not build is the same error in the merged matrix as in
// the unsplit one, and only there.
func TestMergeBrokenVersion(t *testing.T) {
	t.Parallel()
	b := &fakeBuilder{broken: map[string]bool{"v5.6.24": true}}
	r, _ := newRunner(t, b, &fakeChild{runs: splitRuns})
	want, err := r.Matrix(t.Context(), splitVersions)
	require.NoError(t, err)
	got, err := Merge(splitPartsWith(t, b, 4, 3))
	require.NoError(t, err)
	for i, e := range got.Experiments {
		for _, v := range splitVersions {
			assert.Equal(t, want.Experiments[i].Versions[v].Error, e.Versions[v].Error, "%s %s", e.ID, v)
			assert.Equal(t, want.Experiments[i].Versions[v].Trials, e.Versions[v].Trials, "%s %s", e.ID, v)
		}
		assert.NotEmpty(t, e.Versions["v5.6.24"].Error)
	}
}

// TestMergeErrors: a missing, duplicate or foreign part is an error of Merge (ErrMerge), and
// WriteMerged is not reached.
func TestMergeErrors(t *testing.T) {
	t.Parallel()
	dirs := splitParts(t, 4, 0)
	other := splitParts(t, 2, 0)
	// edit rewrites a copy of part dir's part.json with edit applied.
	edit := func(t *testing.T, dir string, edit func(*Part)) string {
		t.Helper()
		cp := filepath.Join(t.TempDir(), "part")
		require.NoError(t, os.CopyFS(cp, os.DirFS(dir)))
		b, err := os.ReadFile(filepath.Join(cp, PartFile))
		require.NoError(t, err)
		var p Part
		require.NoError(t, json.Unmarshal(b, &p))
		edit(&p)
		b, err = json.Marshal(p)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(cp, PartFile), b, 0o644))
		return cp
	}
	tests := []struct {
		name string
		dirs func(t *testing.T) []string
		want string
	}{
		{"none", func(*testing.T) []string { return nil }, "no part given"},
		{"missing", func(*testing.T) []string { return []string{dirs[0], dirs[1], dirs[3]} }, "missing shard(s) 2/4"},
		{"duplicate", func(*testing.T) []string { return []string{dirs[0], dirs[1], dirs[2], dirs[3], dirs[1]} }, "shard 1/4 twice"},
		{"another split", func(*testing.T) []string { return []string{dirs[0], dirs[1], dirs[2], other[1]} }, "of another split"},
		{"another build", func(t *testing.T) []string {
			return []string{dirs[0], edit(t, dirs[1], func(p *Part) { p.Build = "sha256:other" }), dirs[2], dirs[3]}
		}, "kcplab build sha256:other"},
		{"other settings", func(t *testing.T) []string {
			return []string{dirs[0], dirs[1], edit(t, dirs[2], func(p *Part) { p.Settings.Parallel++ }), dirs[3]}
		}, "other settings"},
		{"other seed", func(t *testing.T) []string {
			return []string{dirs[0], dirs[1], edit(t, dirs[2], func(p *Part) { p.Settings.Seed++ }), dirs[3]}
		}, "other settings"},
		{"not a part", func(t *testing.T) []string { return []string{dirs[0], t.TempDir()} }, "is not a part"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mx, err := Merge(tc.dirs(t))
			require.ErrorIs(t, err, ErrMerge)
			assert.ErrorContains(t, err, tc.want)
			assert.Nil(t, mx)
		})
	}
}

// TestSplitSeed: a split run's derived seed is the same in every shard, and differs with the settings.
func TestSplitSeed(t *testing.T) {
	t.Parallel()
	seeds := map[uint64]bool{}
	for i := range 4 {
		dirs := splitParts(t, 4, 0)
		b, err := os.ReadFile(filepath.Join(dirs[i], PartFile))
		require.NoError(t, err)
		var p Part
		require.NoError(t, json.Unmarshal(b, &p))
		seeds[p.Settings.Seed] = true
	}
	assert.Len(t, seeds, 1)
	s := Settings{Experiments: []string{"p003"}, Trials: 200}
	s2 := s
	s2.Trials = 100
	assert.NotEqual(t, SplitSeed(s), SplitSeed(s2))
	assert.NotZero(t, SplitSeed(s))
}

// TestWriteMerged writes matrix.json and charts, replacing an earlier merge's charts.
func TestWriteMerged(t *testing.T) {
	t.Parallel()
	mx, err := Merge(splitParts(t, 2, 0))
	require.NoError(t, err)
	out := filepath.Join(t.TempDir(), "merged")
	require.NoError(t, os.MkdirAll(filepath.Join(out, "charts"), 0o755))
	stale := filepath.Join(out, "charts", "matrix-stale.png")
	require.NoError(t, os.WriteFile(stale, nil, 0o644))
	require.NoError(t, WriteMerged(out, mx))
	got, err := report.ReadMatrix(filepath.Join(out, "matrix.json"))
	require.NoError(t, err)
	assert.Equal(t, mx, got)
	assert.NoFileExists(t, stale)
	for _, e := range mx.Experiments {
		assert.FileExists(t, filepath.Join(out, "charts", "matrix-"+report.Slug(e.ID)+".png"))
	}
	entries, err := os.ReadDir(filepath.Dir(out))
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary directory left beside out")
}
