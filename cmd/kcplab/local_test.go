package main

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"kcplab/harness"
	"kcplab/internal/kcpgo"
	"kcplab/report"
	"kcplab/versions"
)

// copyPinnedKCPGo copies the pinned kcp-go release from the module cache into a writable directory
// and changes its default update interval from 100 to interval ms (kcp.go's `kcp.interval =
// IKCP_INTERVAL`). It skips the test when the module cache does not hold the release.
func copyPinnedKCPGo(t *testing.T, interval string) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Skip("go env GOMODCACHE:", err)
	}
	src := filepath.Join(strings.TrimSpace(string(out)), "github.com", "xtaci", "kcp-go", "v5@"+kcpgo.Pinned)
	if _, err := os.Stat(src); err != nil {
		t.Skipf("kcp-go %s is not in the module cache: %v", kcpgo.Pinned, err)
	}
	dst := filepath.Join(t.TempDir(), "kcp-go")
	require.NoError(t, os.CopyFS(dst, os.DirFS(src)))
	require.NoError(t, filepath.WalkDir(dst, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.Chmod(path, 0o755)
		}
		return os.Chmod(path, 0o644)
	}))
	kcp := filepath.Join(dst, "kcp.go")
	b, err := os.ReadFile(kcp)
	require.NoError(t, err)
	const line = "kcp.interval = IKCP_INTERVAL\n"
	require.Equal(t, 1, bytes.Count(b, []byte(line)), "kcp.go of %s sets the interval once", kcpgo.Pinned)
	require.NoError(t, os.WriteFile(kcp, bytes.Replace(b, []byte(line), []byte("kcp.interval = "+interval+"\n"), 1), 0o644))
	return dst
}

// TestMatrixWorkingTree runs p003-linger against the pinned release and against a copy of it whose
// default update interval is 150 ms instead of 100 (-versions RELEASE,DIR): the binary built against
// the copy names it by its path and "no VCS", and the timing verdict of the client's ACK at its next
// tick is judged for both: it holds for the release and fails for the copy.
func TestMatrixWorkingTree(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("-short: builds kcplab against a release and a working tree, then runs 40 trials")
	}
	tree := copyPinnedKCPGo(t, "150")
	out, cache := t.TempDir(), t.TempDir()
	code, stdout, stderr := kcplab(t, "matrix", "-versions", kcpgo.Pinned+","+tree, "-trials", "20", "-parallel", "10",
		"-out", out, "-cache", cache, "p003-linger")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)

	mx, err := report.ReadMatrix(filepath.Join(out, "matrix.json"))
	require.NoError(t, err)
	assert.Equal(t, []string{kcpgo.Pinned, tree}, mx.Versions)
	for _, tc := range []struct {
		version  string
		name     string // summary.json's kcp_go
		timingOK bool
	}{
		{kcpgo.Pinned, kcpgo.Pinned, true},
		{tree, tree + " (no VCS, files sha256:", false},
	} {
		t.Run(versions.FileName(tc.version), func(t *testing.T) {
			vc := mx.Experiments[0].Versions[tc.version]
			require.NotNil(t, vc)
			require.Empty(t, vc.Error)
			b, err := os.ReadFile(vc.Summary)
			require.NoError(t, err)
			var s harness.Summary
			require.NoError(t, json.Unmarshal(b, &s))
			assert.True(t, strings.HasPrefix(s.KCPGo, tc.name), "kcp_go %q, want %q...", s.KCPGo, tc.name)
			var tick []harness.Verdict
			for _, v := range s.Timing {
				if v.Class == "delivered, ACK at next tick" && strings.Contains(v.Timing, "@100ms") {
					tick = append(tick, v)
				}
			}
			require.Len(t, tick, 1, "the ACK-at-tick verdict: %v", s.Timing)
			t.Log(tick[0])
			require.True(t, tick[0].Judged, "%s", tick[0])
			assert.Equal(t, tc.timingOK, tick[0].OK, "%s", tick[0])
		})
	}

	// The same tree as a peer of -pairs: its binary is cached by the tree's state, and the peer
	// names the tree in its hello.
	code, stdout, stderr = kcplab(t, "matrix", "-pairs", "-peers", "kcp-go@"+tree, "-trials", "2",
		"-out", out, "-cache", cache, "p001")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	assert.Contains(t, stdout, "kcp-go "+tree+": kcplab cached in ")
	pairs, err := report.ReadMatrix(filepath.Join(out, "pairs", "pairs.json"))
	require.NoError(t, err)
	require.Len(t, pairs.Peers, 1)
	assert.Equal(t, tree, pairs.Peers[0].Label)
	assert.True(t, strings.HasPrefix(pairs.Peers[0].KCPGo, tree+" (no VCS, files sha256:"), "%+v", pairs.Peers[0])
}
