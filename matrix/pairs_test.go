package matrix

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"kcplab/experiments"
	"kcplab/harness"
	"kcplab/internal/kcpgo"
	"kcplab/peer"
	"kcplab/report"
)

// inProcessPeer starts a peer in this process, over pipes, instead of `BIN peer`.
func inProcessPeer() func(*exec.Cmd) (*peer.Peer, error) {
	return func(*exec.Cmd) (*peer.Peer, error) {
		toPeer, fromDriver := io.Pipe()
		toDriver, fromPeer := io.Pipe()
		served := make(chan error, 1)
		go func() {
			err := peer.ServePeer(context.Background(), toPeer, fromPeer, experiments.Lookup)
			fromPeer.Close()
			served <- err
		}()
		return peer.NewPeer(toDriver, fromDriver, func() error { return <-served })
	}
}

// TestPairs runs p001 over the one pair of this binary's release with itself, each role in an
// in-process peer: the pair's summary.json, pairs.json and pairs.md are written and every trial has a
// class.
func TestPairs(t *testing.T) {
	if testing.Short() {
		t.Skip("runs trials through peers")
	}
	t.Parallel()
	p001, err := experiments.Lookup("p001")
	require.NoError(t, err)
	v := kcpgo.Version()
	var logged []string
	r := &Runner{Builder: &fakeBuilder{}, StartPeer: inProcessPeer(), Experiments: []*harness.Experiment{p001},
		Trials: 3, Parallel: 3, Out: t.TempDir(), Log: func(f string, a ...any) { logged = append(logged, f) }}
	mx, err := r.Pairs(context.Background(), ReleasePeers([]string{v}))
	require.NoError(t, err)

	label := report.PairLabel(v, v)
	assert.Equal(t, []string{label}, mx.Versions)
	require.Len(t, mx.Experiments, 1)
	vc := mx.Experiments[0].Versions[label]
	require.NotNil(t, vc)
	assert.Empty(t, vc.Error)
	assert.Equal(t, 3, vc.Trials)
	total := vc.Failed
	for _, n := range vc.Classes {
		total += n
	}
	assert.Equal(t, 3, total, "every trial counted once: %+v", vc)
	assert.Zero(t, vc.Failed, "with Discover, every trial has a class: %+v", vc.Failures)
	assert.FileExists(t, filepath.Join(r.Out, "pairs", v+"__"+v, "p001", "summary.json"))
	read, err := report.ReadMatrix(r.PairsPath())
	require.NoError(t, err)
	assert.Equal(t, mx, read)
	md, err := os.ReadFile(filepath.Join(r.Out, "pairs", "pairs.md"))
	require.NoError(t, err)
	assert.Contains(t, string(md), "## p001: ")
	assert.Contains(t, strings.Join(logged, ""), "peer started")
}

// TestPairsPeerOfAnotherRelease: a peer that reports another kcp-go than the release it was built
// for stops the run.
func TestPairsPeerOfAnotherRelease(t *testing.T) {
	t.Parallel()
	p001, err := experiments.Lookup("p001")
	require.NoError(t, err)
	r := &Runner{Builder: &fakeBuilder{}, StartPeer: inProcessPeer(), Experiments: []*harness.Experiment{p001}, Out: t.TempDir()}
	_, err = r.Pairs(context.Background(), ReleasePeers([]string{"v5.6.1"}))
	assert.ErrorContains(t, err, "kcp-go v5.6.1: the peer reports kcp-go "+kcpgo.Version())
}
