package hostrun

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"kcplab/experiments"
	"kcplab/harness"
	"kcplab/hosts"
	"kcplab/peer"
	"kcplab/report"
)

// peerEnv makes the test binary a `kcplab peer` (TestMain), its clock shifted by peer.ClockShiftEnv.
const peerEnv = "KCPLAB_HOSTRUN_TEST_PEER"

func TestMain(m *testing.M) {
	if os.Getenv(peerEnv) == "1" {
		shift, err := time.ParseDuration(os.Getenv(peer.ClockShiftEnv))
		if err != nil {
			shift = 0
		}
		err = peer.ServePeerShifted(context.Background(), os.Stdin, os.Stdout, experiments.Lookup, shift)
		if err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// testConfig runs experiment id's trials with this test binary as the peers, their clocks shift ahead.
func testConfig(t *testing.T, id string, trials int, shift time.Duration) Config {
	t.Helper()
	e, err := experiments.Lookup(id)
	require.NoError(t, err)
	return Config{Experiments: []*harness.Experiment{e}, Trials: trials, Out: t.TempDir(),
		PeerCommand: []string{os.Args[0]},
		PeerEnv:     []string{peerEnv + "=1", peer.ClockShiftEnv + "=" + shift.String(), "GORACE=atexit_sleep_ms=0"},
		Log:         t.Logf}
}

// children lists the processes whose parent is this one.
func children(t *testing.T) []int {
	t.Helper()
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	require.NoError(t, err)
	var out []int
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		s := string(b)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) > 1 && fields[1] == strconv.Itoa(os.Getpid()) && fields[0] != "Z" {
			pid, _ := strconv.Atoi(strings.Fields(s)[0])
			out = append(out, pid)
		}
	}
	return out
}

// TestRunClassifiesEveryTrial runs p001 with each placement, the peers' clocks 300 ms ahead: every
// trial lands in a class, each peer's offset is recovered within its uncertainty and reported with
// its host and address, and nothing of the run is left: no namespace, no peer process.
// Not parallel: it counts this process's children.
func TestRunClassifiesEveryTrial(t *testing.T) {
	for _, p := range Placements {
		t.Run(string(p), func(t *testing.T) {
			if err := Available(p); err != nil {
				t.Skip(err)
			}
			const shift = 300 * time.Millisecond
			cfg := testConfig(t, "p001", 3, shift)
			paths, err := Run(context.Background(), cfg, p)
			require.NoError(t, err)
			assert.Empty(t, hosts.Owned(), "namespaces left")
			assert.Empty(t, children(t), "peer processes left")
			c := Compare(cfg.Out, []Placement{p}, cfg.Experiments)
			require.Equal(t, filepath.Join(Dir(cfg.Out, p), "p001", "summary.json"), paths["p001"])
			vc := c.Matrix.Experiments[0].Versions[string(p)]
			require.Empty(t, vc.Error)
			assert.Equal(t, 3, vc.Trials)
			assert.Zero(t, vc.Failed, "%v", vc.Failures)
			pp := c.Peers[string(p)]["p001"]
			for i, want := range []string{hosts.VethServerAddr.String(), hosts.VethClientAddr.String()} {
				id := pp[i]
				require.NotNil(t, id)
				require.NotNil(t, id.Clock)
				diff := time.Duration(id.Clock.OffsetNs) - shift
				assert.LessOrEqual(t, diff.Abs(), time.Duration(id.Clock.UncertaintyNs), "peer %d: %+v", i, id.Clock)
				assert.Equal(t, id.Clock.OffsetNs, id.Clock.CorrectionNs)
				if p == Veth {
					assert.Equal(t, want, id.Bind)
					assert.True(t, strings.HasPrefix(id.Host, "kcplab-"), id.Host)
				} else {
					assert.Empty(t, id.Bind)
					assert.Empty(t, id.Host)
				}
			}
		})
	}
}

// TestRunAllUnavailable: where veth cannot run, RunAll runs nothing, not even loopback, and says why
// with ErrUnavailable.
func TestRunAllUnavailable(t *testing.T) {
	t.Parallel()
	if Available(Veth) == nil {
		t.Skip("veth can run here (root and ip): nothing is unavailable")
	}
	out := t.TempDir()
	err := RunAll(context.Background(), Config{Experiments: []*harness.Experiment{}, Trials: 1, Out: out}, []Placement{Loopback, Veth})
	require.ErrorIs(t, err, ErrUnavailable)
	assert.ErrorContains(t, err, "veth")
	entries, err := os.ReadDir(out)
	require.NoError(t, err)
	assert.Empty(t, entries, "nothing ran")
}

// TestRunEndsWithItsContext: a run whose context ends mid-run returns the error, and leaves no
// namespace and no peer process. Not parallel: it counts this process's children.
func TestRunEndsWithItsContext(t *testing.T) {
	if err := Available(Veth); err != nil {
		t.Skip(err)
	}
	cfg := testConfig(t, "p003", 200, 0)
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	cfg.Log = func(string, ...any) {}
	go func() {
		// Cancel once both peers run (two children) and the namespaces exist, within 20 s.
		defer close(started)
		deadline := time.Now().Add(20 * time.Second)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for time.Now().Before(deadline) {
			if len(children(t)) == 2 && len(hosts.Owned()) == 2 {
				break
			}
			<-tick.C
		}
		cancel()
	}()
	_, err := Run(ctx, cfg, Veth)
	<-started
	require.Error(t, err)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Empty(t, hosts.Owned(), "namespaces left")
	assert.Empty(t, children(t), "peer processes left")
}

// TestCompare reads two placements' summaries into one comparison: counts per class, the peers, a
// sentence for a share that differs beyond the 95% intervals, and an error for a missing summary
// (Unread).
func TestCompare(t *testing.T) {
	t.Parallel()
	e, err := experiments.Lookup("p003")
	require.NoError(t, err)
	out := t.TempDir()
	write := func(p Placement, counts map[string]int, srv *harness.PeerIdent) {
		s := harness.Summary{Experiment: e.ID, Title: e.Title, Classes: counts, ServerPeer: srv}
		for range 50 {
			s.Trials = append(s.Trials, harness.TrialSummary{})
		}
		dir := filepath.Join(Dir(out, p), e.ID)
		require.NoError(t, os.MkdirAll(dir, 0o755))
		_, err := s.Write(dir)
		require.NoError(t, err)
	}
	a, b := e.Classes[0].Name, e.Classes[1].Name
	write(Loopback, map[string]int{a: 50}, &harness.PeerIdent{Impl: "kcp-go"})
	write(Veth, map[string]int{a: 10, b: 40}, &harness.PeerIdent{Impl: "kcp-go", Bind: "198.18.1.1", Host: "kcplab-1-server-1",
		Clock: &harness.PeerClock{OffsetNs: 2000, UncertaintyNs: 30000, Samples: 8}})
	c := Compare(out, Placements, []*harness.Experiment{e})
	me := c.Matrix.Experiments[0]
	assert.Equal(t, []string{"loopback", "veth"}, c.Matrix.Versions)
	assert.Equal(t, 50, me.Versions["loopback"].Count(a))
	assert.Equal(t, 40, me.Versions["veth"].Count(b))
	assert.Equal(t, "198.18.1.1", c.Peers["veth"]["p003"][0].Bind)
	md := report.HostsSection(c.Matrix, c.Peers, "kcplab hosts -trials 50")
	assert.Contains(t, md, "| loopback | 50 | 50 (100%) |")
	assert.Contains(t, md, "| veth | 50 | 10 (20%) | 40 (80%) |")
	assert.Contains(t, md, "198.18.1.1 in a namespace of its own; clock +0.002 ± 0.030 ms, not corrected")
	assert.Contains(t, md, "with loopback and", "a sentence for the difference")
	assert.NoError(t, c.Unread())

	missing := Compare(t.TempDir(), Placements, []*harness.Experiment{e})
	assert.NotEmpty(t, missing.Matrix.Experiments[0].Versions["veth"].Error)
	assert.Equal(t, 2, missing.Matrix.Failed())
	assert.ErrorContains(t, missing.Unread(), "summary.json")
}

func TestParsePlacements(t *testing.T) {
	t.Parallel()
	tests := []struct {
		names []string
		want  []Placement
		err   string
	}{
		{[]string{"veth", "loopback"}, []Placement{Veth, Loopback}, ""},
		{[]string{"loopback"}, []Placement{Loopback}, ""},
		{[]string{"moon"}, nil, `unknown placement "moon" (want loopback or veth)`},
		{nil, nil, "no placement given"},
	}
	_, err := ParsePlacements([]string{"veth", "moon"})
	assert.ErrorIs(t, err, ErrPlacement)
	for _, tc := range tests {
		got, err := ParsePlacements(tc.names)
		if tc.err != "" {
			assert.EqualError(t, err, tc.err)
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, tc.want, got)
	}
}
