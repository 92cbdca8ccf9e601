package matrix

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"kcplab/experiments"
	"kcplab/harness"
	"kcplab/peer"
	"kcplab/versions"
)

// TestParsePeers resolves -peers and -peer: kcp-go versions (with kcp-go@ or bare, releases and
// trees), built-ins, and commands of -peer, in the order named, each once, the -peer definitions not
// named last; a name that is none of these is ErrBadPeer.
func TestParsePeers(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	built := filepath.Join(root, "peers", "ikcp")
	require.NoError(t, os.MkdirAll(filepath.Join(built, "node_modules"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(built, "peer.js"), nil, 0o644))
	version := func(s string) (string, error) {
		if s == "v5.6.6" {
			return "", errors.New("not served")
		}
		return versions.Normalize(s)
	}
	cat, err := exec.LookPath("cat")
	require.NoError(t, err)
	_, nodeErr := exec.LookPath("node")
	for _, tc := range []struct {
		name   string
		items  []string
		defs   []string
		want   []PeerSpec
		errIs  error
		errMsg string
	}{
		{name: "releases", items: []string{"kcp-go@v5.4.20+incompatible", "kcp-go@v5.7.6", "v5.6.1", "seed", "kcp-go@v5.7.6"},
			want: []PeerSpec{{Label: "v5.4.20+incompatible", KCPGo: "v5.4.20+incompatible"}, {Label: "v5.7.6", KCPGo: "v5.7.6"}, {Label: "v5.6.1", KCPGo: "v5.6.1"}}},
		{name: "a working tree", items: []string{"kcp-go@../kcp-go/", "./kcp-go"},
			want: []PeerSpec{{Label: "../kcp-go", KCPGo: "../kcp-go"}, {Label: "./kcp-go", KCPGo: "./kcp-go"}}},
		{name: "commands of -peer", items: []string{"b", "v5.7.6"}, defs: []string{"a=cat -u", "b=cat"},
			want: []PeerSpec{{Label: "b", Command: []string{"cat"}}, {Label: "v5.7.6", KCPGo: "v5.7.6"}, {Label: "a", Command: []string{"cat", "-u"}}}},
		{name: "a version that does not resolve", items: []string{"v5.6.6"}, errMsg: "not served"},
		{name: "unknown implementation", items: []string{"quic"}, errIs: ErrBadPeer, errMsg: `unknown implementation "quic"`},
		{name: "unknown implementation with a version", items: []string{"kcp@1"}, errIs: ErrBadPeer, errMsg: `unknown implementation "kcp"`},
		{name: "kcp-go without a version", items: []string{"kcp-go"}, errIs: ErrBadPeer, errMsg: `unknown implementation "kcp-go"`},
		{name: "defined twice", defs: []string{"a=cat", "a=cat"}, errIs: ErrBadPeer, errMsg: "-peer a is defined twice"},
		{name: "a name with a slash", defs: []string{"a/b=cat"}, errIs: ErrBadPeer, errMsg: "the name must be a word"},
		{name: "nothing", errIs: ErrBadPeer, errMsg: "no peer given"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParsePeers(tc.items, tc.defs, root, version)
			if tc.errMsg != "" {
				assert.ErrorContains(t, err, tc.errMsg)
				if tc.errIs != nil {
					assert.ErrorIs(t, err, tc.errIs)
				}
				return
			}
			require.NoError(t, err)
			for i := range got {
				if got[i].Command != nil && got[i].Command[0] == cat {
					got[i].Command[0] = "cat"
				}
			}
			assert.Equal(t, tc.want, got)
		})
	}
	t.Run("ikcp built", func(t *testing.T) {
		t.Parallel()
		if nodeErr != nil {
			t.Skip("no node:", nodeErr)
		}
		got, err := ParsePeers([]string{"ikcp"}, nil, root, version)
		require.NoError(t, err)
		require.Len(t, got, 1)
		assert.Equal(t, "ikcp", got[0].Label)
		assert.Equal(t, filepath.Join(built, "peer.js"), got[0].Command[1])
	})
}

// TestIkcpNotBuilt: ikcp before peers/ikcp/build.sh ran says how to build it.
func TestIkcpNotBuilt(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, make, missing string }{
		{"no peer.js", "", "peers/ikcp/peer.js is missing"},
		{"no node_modules", "peer.js", "peers/ikcp/node_modules is missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			if tc.make != "" {
				require.NoError(t, os.MkdirAll(filepath.Join(root, "peers", "ikcp"), 0o755))
				require.NoError(t, os.WriteFile(filepath.Join(root, "peers", "ikcp", tc.make), nil, 0o644))
			}
			_, err := ParsePeers([]string{"ikcp"}, nil, root, versions.Normalize)
			assert.ErrorIs(t, err, ErrBadPeer)
			assert.ErrorContains(t, err, tc.missing)
			assert.ErrorContains(t, err, "build it first with peers/ikcp/build.sh")
		})
	}
}

// TestPairsPeerDoesNotStart: when a peer does not start, those started before it are closed, and the
// error says which and wraps ErrPeerStart. Not parallel: it counts goroutines.
func TestPairsPeerDoesNotStart(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	p001, err := experiments.Lookup("p001")
	require.NoError(t, err)
	var started []string
	inProc := inProcessPeer()
	r := &Runner{Builder: &fakeBuilder{}, Experiments: []*harness.Experiment{p001}, Out: t.TempDir(),
		StartPeer: func(cmd *exec.Cmd) (*peer.Peer, error) {
			started = append(started, cmd.Args[0])
			if len(started) == 1 {
				return inProc(cmd)
			}
			return peer.StartPeerWithin(cmd, 0, 0)
		}}
	_, err = r.Pairs(context.Background(), []PeerSpec{{Label: "v5.7.6", KCPGo: "v5.7.6"}, {Label: "broken", Command: []string{"false"}}})
	assert.ErrorIs(t, err, ErrPeerStart)
	assert.ErrorContains(t, err, "broken: the peer did not start: peer false: no hello from the peer: its output ended (EOF); exit status 1 (its stderr is in "+filepath.Join(r.Out, "pairs", "peer-broken.log")+")")
	assert.Equal(t, []string{"/fake/v5.7.6/kcplab", "false"}, started)
}

// TestPeersOrderAndBlock: the releases a list of versions names come oldest first, the peers after
// them stay in place, and a run with a peer that is not kcp-go goes into the implementations block.
func TestPeersOrderAndBlock(t *testing.T) {
	t.Parallel()
	rel := func(v string) PeerSpec { return PeerSpec{Label: v, KCPGo: v} }
	mine := PeerSpec{Label: "mine", Command: []string{"/bin/mine"}}
	tests := []struct {
		name   string
		specs  []PeerSpec
		labels []string
		block  string
	}{
		{"releases", []PeerSpec{rel("v5.7.6"), rel("v5.4.20+incompatible"), rel("v5.6.1")}, []string{"v5.4.20+incompatible", "v5.6.1", "v5.7.6"}, "pairs"},
		{"releases and a command", []PeerSpec{rel("v5.6.24"), rel("v5.6.1"), mine}, []string{"v5.6.1", "v5.6.24", "mine"}, "implementations"},
		{"a command first", []PeerSpec{mine, rel("v5.6.24"), rel("v5.6.1")}, []string{"mine", "v5.6.24", "v5.6.1"}, "implementations"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			SortReleases(tc.specs)
			assert.Equal(t, tc.labels, Labels(tc.specs))
			block, title := ResultsBlock(tc.specs)
			assert.Equal(t, tc.block, block)
			assert.NotEmpty(t, title)
		})
	}
}
