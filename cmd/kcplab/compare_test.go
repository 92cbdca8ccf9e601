package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"kcplab/report"
)

// runWith writes a one-version matrix.json of p003 with k of 200 trials lost at Close into a new
// directory, and returns the directory.
func runWith(t *testing.T, k int) string {
	t.Helper()
	d := t.TempDir()
	m := &report.Matrix{Versions: []string{"v5.7.6"}, Experiments: []report.MatrixExperiment{{
		ID: "p003", Title: "close", Classes: []string{"delivered", "response lost at Close"},
		Versions: map[string]*report.VersionCounts{"v5.7.6": {Trials: 200,
			Classes: map[string]int{"delivered": 200 - k, "response lost at Close": k}}},
	}}}
	require.NoError(t, report.WriteMatrix(filepath.Join(d, "matrix.json"), m))
	return d
}

func TestCompareExitStatus(t *testing.T) {
	t.Parallel()
	base, near, far := runWith(t, 30), runWith(t, 36), runWith(t, 80)
	notMatrix := filepath.Join(t.TempDir(), "x.json")
	require.NoError(t, os.WriteFile(notMatrix, []byte(`{"versions": []}`), 0o644))
	notJSON := filepath.Join(t.TempDir(), "matrix.json")
	require.NoError(t, os.WriteFile(notJSON, []byte("p003 200 trials\n"), 0o644))
	badCounts := filepath.Join(t.TempDir(), "matrix.json")
	require.NoError(t, os.WriteFile(badCounts, []byte(`{"versions": ["v"], "experiments": [{"id": "p003",
		"versions": {"v": {"trials": 10, "classes": {"delivered": 12}, "failed": 0}}}]}`), 0o644))
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string // in stdout for 0 and 1, in stderr for 2
	}{
		{"one share, within chance", []string{base, near}, 0, "0 differ"},
		{"a file and a directory", []string{filepath.Join(base, "matrix.json"), near}, 0, "0 differ"},
		{"30 against 80 of 200", []string{base, far}, 1, "differs"},
		{"runs on a side, comma-separated", []string{base + "," + near, far + "," + runWith(t, 84)}, 1, "runs: A 30 36; B 80 84"},
		{"a side of runs that scatter", []string{base + "," + runWith(t, 70), near + "," + runWith(t, 78)}, 0, "0 differ"},
		{"only the changes", []string{"-changes", base, far}, 1, "2 differ"},
		{"no change to show", []string{"-changes", base, near}, 0, "1 experiment run(s) with no class at p < 0.05 not shown"},
		{"one run", []string{base}, 2, "two sides"},
		{"no matrix.json", []string{base, t.TempDir()}, 2, "no such file"},
		{"not a matrix", []string{base, notMatrix}, 2, "not a matrix.json"},
		{"not JSON", []string{base, notJSON}, 2, "invalid character"},
		{"counts no run has", []string{base, badCounts}, 2, "counts that no run has"},
		{"alpha out of range", []string{"-alpha", "1.5", base, near}, 2, "-alpha"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, out, errs := kcplab(t, append([]string{"compare"}, tc.args...)...)
			assert.Equal(t, tc.code, code, "stdout:\n%s\nstderr:\n%s", out, errs)
			if tc.code == 2 {
				assert.Contains(t, errs, tc.want)
			} else {
				assert.Contains(t, out, tc.want)
			}
		})
	}
}
