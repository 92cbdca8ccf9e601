package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"kcplab/experiments"
	"kcplab/harness"
	"kcplab/internal/kcpgo"
	"kcplab/matrix"
	"kcplab/peer"
	"kcplab/report"
)

// peerEnv makes the test binary a `kcplab peer` (TestMain).
const peerEnv = "KCPLAB_TEST_AS_PEER"

func TestMain(m *testing.M) {
	if os.Getenv(mainEnv) == "1" {
		os.Exit(program.Main(os.Args[1:], os.Stdout, os.Stderr))
	}
	if os.Getenv(peerEnv) == "1" {
		os.Exit(program.Main([]string{"peer"}, os.Stdout, os.Stderr))
	}
	_, noOut := os.Stat("out")
	code := m.Run()
	if _, err := os.Stat("out"); noOut != nil && err == nil {
		fmt.Fprintln(os.Stderr, "a test left out/ in the package's directory: give each command an -out under t.TempDir(), and check bad input before making anything")
		code = 1
	}
	os.Exit(code)
}

// testPeer starts this test binary as a peer process.
func testPeer(t *testing.T) *peer.Peer {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), peerEnv+"=1")
	cmd.Stderr = os.Stderr
	p, err := peer.StartPeer(cmd)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, p.Close()) })
	return p
}

// TestPairsOverPeerProcesses runs p001 and p003 with the server in one peer process and the client in
// another: every trial lands in a class, and p001's trials in the classes its in-process trials land
// in, in shares a test does not tell apart.
func TestPairsOverPeerProcesses(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs trials in two peer processes")
	}
	srv, cli := testPeer(t), testPeer(t)
	assert.Equal(t, kcpgo.Version(), srv.Hello.KCPGo)
	ctx := context.Background()

	p001, err := experiments.Lookup("p001")
	require.NoError(t, err)
	inProc, err := harness.Run(ctx, p001, harness.RunOptions{Trials: 6, Parallel: 6, KeepDir: t.TempDir()})
	require.NoError(t, err)
	pair, err := peer.RunPair(ctx, p001, harness.RunOptions{Trials: 6, Parallel: 6, KeepDir: t.TempDir()}, srv, cli)
	require.NoError(t, err)
	for _, f := range pair.Failed() {
		t.Errorf("p001 pair trial %d: %v", f.Trial, f.Err)
	}
	// Which of p001's classes a trial lands in depends on timing (under make test's load, the server's
	// ACK often waits for the echo), so each run's shares move with the machine's load; the pair must
	// not move them apart from the in-process run: Fisher's exact test does not tell their "echoed"
	// shares apart (it does 6 of 6 against 0 of 6).
	assert.Greater(t, report.FisherP(inProc.Counts["echoed"], len(inProc.Trials), pair.Counts["echoed"], len(pair.Trials)), 0.01,
		"in-process %v, pair %v", inProc.Counts, pair.Counts)

	p003, err := experiments.Lookup("p003")
	require.NoError(t, err)
	res, err := peer.RunPair(ctx, p003, harness.RunOptions{Trials: 6, Parallel: 6, Discover: true, KeepDir: t.TempDir()}, srv, cli)
	require.NoError(t, err)
	for _, f := range res.Failed() {
		t.Errorf("p003 pair trial %d: %v", f.Trial, f.Err)
	}
	for _, tr := range res.Trials {
		assert.NotEmpty(t, tr.Class.Name, "p003 trial %d", tr.Trial)
		if tr.Discovered {
			t.Logf("p003 trial %d: discovered class %q", tr.Trial, tr.Class.Name)
		}
	}
	s := res.Summary()
	assert.Equal(t, kcpgo.Version(), s.KCPGoClient)
}

// TestPairsWithTheCReference runs p002 with the C reference's peer (peers/ikcp) as client against a
// kcp-go server: every trial fits one of p002's named classes, though ikcp.c advertises a window of 128
// where kcp-go's is 32 (the ladders read a window against the sender's own full one).
func TestPairsWithTheCReference(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs trials in two peer processes")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	args, err := matrix.Builtins["ikcp"](root)
	if err != nil {
		t.Skip(err) // node or the built peer is missing, and how to get them
	}
	ikcp, err := peer.StartPeer(exec.Command(args[0], args[1:]...))
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, ikcp.Close()) })
	p002, err := experiments.Lookup("p002")
	require.NoError(t, err)
	res, err := peer.RunPair(context.Background(), p002, harness.RunOptions{Trials: 6, Parallel: 6, KeepDir: t.TempDir()}, testPeer(t), ikcp)
	require.NoError(t, err)
	for _, f := range res.Failed() {
		t.Errorf("p002 trial %d, ikcp client: %v", f.Trial, f.Err)
	}
	assert.Len(t, res.Trials, 6)
}
