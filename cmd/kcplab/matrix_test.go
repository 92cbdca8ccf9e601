package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"kcplab/report"
	"kcplab/versions"
)

// Bad input to matrix and bisect exits with 2 and says what is wrong, before anything is built or run.
func TestMatrixBadInput(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"matrix", "-versions", "v5.4.22", "p003"}, "served under neither module path"},
		{[]string{"matrix", "-versions", "v5.6", "p003"}, "want vMAJOR.MINOR.PATCH"},
		{[]string{"matrix", "-versions", "v4.3.0", "p003"}, "v5 releases only"},
		{[]string{"matrix", "-versions", ",", "p003"}, "no version given"},
		{[]string{"matrix", "-versions", "v5.6.1", "nope"}, `unknown experiment "nope"`},
		{[]string{"matrix", "-trials", "-1"}, "-trials -1"},
		{[]string{"matrix", "-bogus"}, "flag provided but not defined"},
		{[]string{"bisect", "p003"}, "want ID CLASS"},
		{[]string{"bisect", "p003", "delivered"}, "-from and -to are required"},
		{[]string{"bisect", "-from", "v5.6.1", "-to", "v5.6.24", "p003", "bogus"}, `p003 has no class "bogus"`},
		{[]string{"bisect", "p003", "delivered", "-from", "v5.6.24", "-to", "v5.6.1"}, "newer than"},
		{[]string{"bisect", "p003", "delivered", "-from", "v5.6.1", "-to", "v5.6.1"}, "the same version"},
		{[]string{"bisect", "nope", "delivered", "-from", "v5.6.1", "-to", "v5.6.24"}, `unknown experiment "nope"`},
	} {
		code, _, errs := kcplab(t, tc.args...)
		assert.Equal(t, 2, code, "%v: %s", tc.args, errs)
		assert.Contains(t, errs, tc.want, "%v", tc.args)
	}
}

func TestReadCounts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "summary.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"experiment":"p003","kcp_go":"v5.6.1","classes":{"delivered":1},"failed":2,
		"trials":[{"trial":1,"class":"delivered"},{"trial":2,"error":"trial 2 fits no class; actual ladder:\n     0.4ms c→s PUSH sn=0 una=0 len=9\n   200.3ms c→s PUSH sn=0 una=0 len=9\n  not \"delivered\": ..."},{"trial":3,"error":"trial 3 fits no class; actual ladder:\n     0.3ms c→s PUSH sn=0 una=0 len=9\n   201.0ms c→s PUSH sn=0 una=0 len=9\n"}]}`), 0o644))
	vc := readCounts(path)
	assert.Equal(t, "v5.6.1", vc.KCPGo)
	assert.Equal(t, 3, vc.Trials)
	assert.Equal(t, 2, vc.Failed)
	assert.Equal(t, map[string]int{"fits no class; actual ladder: c→s PUSH sn=0 una=0 len=9 / c→s PUSH sn=0 una=0 len=9": 2}, vc.Failures)
	missing := readCounts(filepath.Join(dir, "none.json"))
	assert.NotEmpty(t, missing.Error)
}

func TestWriteMatrixResults(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	md := filepath.Join(dir, "RESULTS.md")
	require.NoError(t, os.WriteFile(md, []byte("# results\n\nprose\n"), 0o644))
	mx := &report.Matrix{Versions: []string{"v5.6.1", "v5.7.6"}, Experiments: []report.MatrixExperiment{{
		ID: "p003", Title: "t", Classes: []string{"delivered"},
		Versions: map[string]*report.VersionCounts{
			"v5.6.1": {KCPGo: "v5.6.1", Trials: 20, Classes: map[string]int{"delivered": 20}},
			"v5.7.6": {KCPGo: "v5.7.6", Trials: 20, Classes: map[string]int{"delivered": 0}, Failed: 20},
		}}}}
	require.NoError(t, writeMatrixResults(md, mx))
	require.NoError(t, writeMatrixResults(md, mx)) // idempotent: the block is replaced
	b, err := os.ReadFile(md)
	require.NoError(t, err)
	s := string(b)
	assert.True(t, strings.HasPrefix(s, "# results\n\nprose\n"))
	assert.Equal(t, 1, strings.Count(s, "## kcp-go versions"))
	assert.Contains(t, s, "![p003: class shares by kcp-go version](charts/matrix-p003.png)")
	assert.FileExists(t, filepath.Join(dir, "charts", "matrix-p003.png"))
}

func TestBisectSearch(t *testing.T) {
	t.Parallel()
	rel := []string{"v5.6.1", "v5.6.2", "v5.6.3", "v5.6.4", "v5.6.5", "v5.6.6", "v5.6.7", "v5.6.8", "v5.6.9", "v5.6.10"}
	for change := 1; change < len(rel); change++ {
		asked := 0
		var skipped []string
		before, first, err := bisectSearch(rel, func(v string) (bool, error) {
			asked++
			if v == "v5.6.6" {
				return false, fmt.Errorf("kcp-go %s: %w", v, versions.ErrUnknown)
			}
			return versions.Compare(v, rel[change]) >= 0, nil
		}, func(v string) { skipped = append(skipped, v) })
		require.NoError(t, err)
		want := rel[change]
		wantBefore := rel[change-1]
		if want == "v5.6.6" { // not served: the change shows at the next release
			want = "v5.6.7"
		}
		if wantBefore == "v5.6.6" {
			wantBefore = "v5.6.5"
		}
		assert.Equal(t, want, first, "change at %s", rel[change])
		assert.Equal(t, wantBefore, before, "change at %s", rel[change])
		assert.LessOrEqual(t, asked, 5, "change at %s", rel[change])
		for _, s := range skipped {
			assert.Equal(t, "v5.6.6", s)
		}
	}
	_, _, err := bisectSearch(rel, func(string) (bool, error) { return false, fmt.Errorf("boom") }, func(string) {})
	assert.EqualError(t, err, "boom")
}
