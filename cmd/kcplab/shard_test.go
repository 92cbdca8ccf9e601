package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"kcplab/experiments"
	"kcplab/harness"
	"kcplab/internal/kcpgo"
	"kcplab/matrix"
	"kcplab/report"
	"kcplab/versions"
)

// inProcess is a versions build of kcplab that is this process: the one version it "builds" is
// the pinned kcp-go, and its `kcplab run` is Main.
type inProcess struct{}

func (inProcess) Build(_ context.Context, v string) (*versions.Binary, error) {
	return &versions.Binary{Version: v, KCPGo: kcpgo.Version(), Path: "kcplab-in-process", Cached: true}, nil
}

// exitCode is Main's exit status as an error with an ExitCode method, as os/exec reports a child's.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }
func (e exitCode) ExitCode() int { return int(e) }

func runInProcess(_ context.Context, _ string, args []string, stdout, stderr io.Writer) error {
	if code := program.Main(args, stdout, stderr); code != 0 {
		return exitCode(code)
	}
	return nil
}

// tinyMatrix runs p001 (4 trials) with the in-process version into a new directory, split as shard
// (the zero Shard: unsplit) in blocks of block trials, and returns the directory.
func tinyMatrix(t *testing.T, shard matrix.Shard, block int) string {
	t.Helper()
	es, err := experiments.Select("p001")
	require.NoError(t, err)
	r := &matrix.Runner{Builder: inProcess{}, Exec: runInProcess, Experiments: es, Trials: 4, Parallel: 4,
		Out: t.TempDir(), Shard: shard, Block: block}
	_, err = r.Matrix(t.Context(), []string{kcpgo.Pinned})
	require.NoError(t, err)
	return r.Out
}

// TestMergeRealSplit splits a real matrix (p001, 4 trials, the in-process kcp-go) 4 ways in blocks
// of one trial and merges it with kcplab merge: the same cells and trial counts as the unsplit
// run's, no share beyond the unsplit run's 95% interval, charts and the RESULTS.md section written.
func TestMergeRealSplit(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("-short: runs 8 trials of p001")
	}
	want, err := report.ReadMatrix(filepath.Join(tinyMatrix(t, matrix.Shard{}, 0), "matrix.json"))
	require.NoError(t, err)
	var parts []string
	for i := range 4 {
		parts = append(parts, tinyMatrix(t, matrix.Shard{I: i, N: 4}, 1))
	}
	out := filepath.Join(t.TempDir(), "merged")
	results := filepath.Join(t.TempDir(), "RESULTS.md")
	code, stdout, stderr := kcplab(t, append([]string{"merge", "-out", out, "-results", results}, parts...)...)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	got, err := report.ReadMatrix(filepath.Join(out, "matrix.json"))
	require.NoError(t, err)

	assert.Equal(t, want.Versions, got.Versions)
	require.Len(t, got.Experiments, len(want.Experiments))
	for i, e := range got.Experiments {
		w := want.Experiments[i]
		assert.Equal(t, w.ID, e.ID)
		assert.Equal(t, slices.Sorted(maps.Keys(w.Versions)), slices.Sorted(maps.Keys(e.Versions)))
		for v, vc := range e.Versions {
			wv := w.Versions[v]
			assert.Empty(t, vc.Error)
			assert.Equal(t, wv.Trials, vc.Trials, "%s %s", e.ID, v)
			assert.Equal(t, wv.KCPGo, vc.KCPGo)
			for _, c := range e.Classes {
				assert.False(t, report.Differ(wv.Count(c), wv.Trials, vc.Count(c), vc.Trials), "%s %s %q: %d/%d unsplit, %d/%d merged",
					e.ID, v, c, wv.Count(c), wv.Trials, vc.Count(c), vc.Trials)
			}
		}
		assert.FileExists(t, filepath.Join(out, "charts", "matrix-"+report.Slug(e.ID)+".png"))
	}
	b, err := os.ReadFile(results)
	require.NoError(t, err)
	assert.Contains(t, string(b), "### p001: ")
}

// runPart runs `kcplab run p001 -trials 2 -block 1 -shard SHARD` plus extra into a new directory:
// shard 2/3 has no cell, so it runs nothing.
func runPart(t *testing.T, shard string, extra ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "part")
	args := append([]string{"run", "p001", "-trials", "2", "-block", "1", "-shard", shard, "-out", out}, extra...)
	code, stdout, stderr := kcplab(t, args...)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	return out
}

// TestMergeBadParts: a missing, duplicate or foreign part exits 2 and writes nothing.
func TestMergeBadParts(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs 2 trials of p001")
	}
	t.Parallel()
	parts := []string{runPart(t, "0/3"), runPart(t, "1/3"), runPart(t, "2/3")}
	otherSettings := runPart(t, "2/3", "-parallel", "3")
	// otherBuild is part 2 as another kcplab build would have written it.
	otherBuild := filepath.Join(t.TempDir(), "part")
	require.NoError(t, os.CopyFS(otherBuild, os.DirFS(parts[2])))
	b, err := os.ReadFile(filepath.Join(otherBuild, matrix.PartFile))
	require.NoError(t, err)
	var rec map[string]any
	require.NoError(t, json.Unmarshal(b, &rec))
	rec["build"] = "vcs:0000000000000000000000000000000000000000"
	b, err = json.Marshal(rec)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(otherBuild, matrix.PartFile), b, 0o644))

	// The whole set merges.
	code, stdout, stderr := kcplab(t, append([]string{"merge", "-out", filepath.Join(t.TempDir(), "ok")}, parts...)...)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)

	for _, tc := range []struct {
		name  string
		parts []string
		want  string
	}{
		{"missing", parts[:2], "missing shard(s) 2/3"},
		{"duplicate", []string{parts[0], parts[1], parts[2], parts[1]}, "shard 1/3 twice"},
		{"other build", []string{parts[0], parts[1], otherBuild}, "kcplab build vcs:0000"},
		{"other settings", []string{parts[0], parts[1], otherSettings}, "other settings"},
		{"not a part", []string{parts[0], parts[1], t.TempDir()}, "not a part"},
		{"no part", nil, "want the parts' directories"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			out, results := filepath.Join(dir, "merged"), filepath.Join(dir, "RESULTS.md")
			code, _, stderr := kcplab(t, append([]string{"merge", "-out", out, "-results", results}, tc.parts...)...)
			assert.Equal(t, 2, code, stderr)
			assert.Contains(t, stderr, tc.want)
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			assert.Empty(t, entries, "nothing written")
		})
	}
}

// trialOf reads trial n's entry of the summary.json at path.
func trialOf(t *testing.T, path string, n int) harness.TrialSummary {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var s harness.Summary
	require.NoError(t, json.Unmarshal(b, &s))
	for _, tr := range s.Trials {
		if tr.Trial == n {
			return tr
		}
	}
	require.Failf(t, "no trial", "%s has no trial %d", path, n)
	return harness.TrialSummary{}
}

// TestShardReplay: trial 3 of a run over a lossy link, from shard 0/2 in blocks of one trial, has the
// seed the unsplit run gives it (seed+2); run alone from its cell (-cells p001:3-3) it is trial 3
// with that seed again, and with -seed at its own seed it is trial 1 with that seed: the link's
// decisions are its seed's.
func TestShardReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs 3 trials of p001")
	}
	t.Parallel()
	const link, seed = "loss=20%", uint64(1000)
	base := []string{"run", "p001", "-link", link, "-seed", fmt.Sprint(seed), "-trials", "4"}
	dir := t.TempDir()
	shard := filepath.Join(dir, "shard")
	code, stdout, stderr := kcplab(t, append(base, "-shard", "0/2", "-block", "1", "-out", shard)...)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	// Round-robin: shard 0 of 2 holds trials 1 and 3.
	got := trialOf(t, filepath.Join(shard, "trials-0003-0003", "p001", "summary.json"), 3)
	require.NotNil(t, got.Link)
	assert.Equal(t, seed+2, got.Link.Seed)
	assert.Equal(t, "trial-003.pcapng", got.Pcapng)

	cell := filepath.Join(dir, "cell")
	code, stdout, stderr = kcplab(t, append(base, "-cells", "p001:3-3", "-out", cell)...)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	again := trialOf(t, filepath.Join(cell, "trials-0003-0003", "p001", "summary.json"), 3)
	require.NotNil(t, again.Link)
	assert.Equal(t, got.Link.Seed, again.Link.Seed)
	assert.Equal(t, got.Link.Spec, again.Link.Spec)

	alone := filepath.Join(dir, "alone")
	code, stdout, stderr = kcplab(t, "run", "p001", "-link", link, "-seed", fmt.Sprint(got.Link.Seed), "-trials", "1", "-out", alone)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	one := trialOf(t, filepath.Join(alone, "p001", "summary.json"), 1)
	require.NotNil(t, one.Link)
	assert.Equal(t, got.Link.Seed, one.Link.Seed)
	assert.Equal(t, got.Link.Spec, one.Link.Spec)
}
