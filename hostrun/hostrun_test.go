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
			paths, err := Run(context.Background(), cfg, p, 1)
			require.NoError(t, err)
			assert.Empty(t, hosts.Owned(), "namespaces left")
			assert.Empty(t, children(t), "peer processes left")
			c := Compare(cfg.Out, []Placement{p}, cfg.Experiments, 1)
			require.Equal(t, filepath.Join(RunDir(cfg.Out, p, 1), "p001", "summary.json"), paths["p001"])
			vc := c.Pooled.Experiments[0].Versions[string(p)]
			require.Empty(t, vc.Error)
			assert.Equal(t, 3, vc.Trials)
			assert.Zero(t, vc.Failed, "%v", vc.Failures)
			require.Len(t, c.Peers[string(p)]["p001"], 1, "one run")
			pp := c.Peers[string(p)]["p001"][0]
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
	_, err := Run(ctx, cfg, Veth, 1)
	<-started
	require.Error(t, err)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Empty(t, hosts.Owned(), "namespaces left")
	assert.Empty(t, children(t), "peer processes left")
}

// writeRuns writes a summary of experiment e for each run of placement p under out: run i with
// trials trials, counts[i] of them in class a and the rest in class b.
func writeRuns(t *testing.T, out string, p Placement, e *harness.Experiment, trials int, counts []int, srv *harness.PeerIdent) {
	t.Helper()
	a, b := e.Classes[0].Name, e.Classes[1].Name
	for i, k := range counts {
		s := harness.Summary{Experiment: e.ID, Title: e.Title, Classes: map[string]int{a: k, b: trials - k}, ServerPeer: srv}
		for range trials {
			s.Trials = append(s.Trials, harness.TrialSummary{})
		}
		dir := filepath.Join(RunDir(out, p, i+1), e.ID)
		require.NoError(t, os.MkdirAll(dir, 0o755))
		_, err := s.Write(dir)
		require.NoError(t, err)
	}
}

// TestCompare reads each placement's runs into one comparison: counts per class pooled and run by
// run, the peers of every run, a sentence for a class that differs by the test over runs, none for a
// class whose one run scattered (which a test of the pooled trials would name), and an error for a
// placement whose runs are missing or not numbered from 1 (Unread).
func TestCompare(t *testing.T) {
	t.Parallel()
	e, err := experiments.Lookup("p003")
	require.NoError(t, err)
	veth := &harness.PeerIdent{Impl: "kcp-go", Bind: "198.18.1.1", Host: "kcplab-1-server-1",
		Clock: &harness.PeerClock{OffsetNs: 2000, UncertaintyNs: 30000, Samples: 8}}
	a := e.Classes[0].Name
	for _, tc := range []struct {
		name           string
		loopback, veth []int // class a's trials, run by run, of 50
		want           []string
		differs        bool
	}{
		{"every run apart", []int{50, 50, 50}, []int{10, 12, 9}, []string{
			"| loopback (3 runs) | 150 | 150 (100%) | 0 (0%) |",
			"| veth (3 runs) | 150 | 31 (21%) | 119 (79%) |",
			"| veth | 50 · 50 · 50 | 10 · 12 · 9 | 40 · 38 · 41 |",
			"198.18.1.1 in a namespace of its own; clock +0.002 to +0.002 ms (± at most 0.030 ms), not corrected (0 within) in 3 runs",
			"the test over runs",
		}, true},
		{"one run scattered", []int{45, 20, 21}, []int{19, 20, 21}, []string{
			"| loopback | 50 · 50 · 50 | 45 · 20 · 21 |",
			"No class's share differs between loopback and veth",
		}, false},
		{"one run each: Fisher's exact test", []int{50}, []int{10}, []string{"Fisher's exact test", "| veth (1 run) | 50 | 10 (20%) |",
			"198.18.1.1 in a namespace of its own; clock +0.002 ± 0.030 ms, not corrected (0 within)"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out := t.TempDir()
			writeRuns(t, out, Loopback, e, 50, tc.loopback, &harness.PeerIdent{Impl: "kcp-go"})
			writeRuns(t, out, Veth, e, 50, tc.veth, veth)
			c := Compare(out, Placements, []*harness.Experiment{e}, 0)
			require.NoError(t, c.Unread())
			assert.Equal(t, []string{"loopback", "veth"}, c.Pooled.Versions)
			require.Len(t, c.Runs["veth"], len(tc.veth))
			assert.Equal(t, tc.veth[0], c.Runs["veth"][0].Experiments[0].Versions["veth"].Count(a))
			assert.Len(t, c.Peers["veth"]["p003"], len(tc.veth))
			md := report.HostsSection(c, "kcplab hosts -trials 50")
			for _, w := range tc.want {
				assert.Contains(t, md, w)
			}
			assert.Equal(t, tc.differs, strings.Contains(md, "with loopback and"), "a sentence for a difference:\n%s", md)
			if !tc.differs {
				kl, kv, n := 0, 0, 0
				for i := range tc.loopback {
					kl, kv, n = kl+tc.loopback[i], kv+tc.veth[i], n+50
				}
				assert.Less(t, report.FisherP(kl, n, kv, n), report.HostsAlpha/2, "the pooled trials alone would name it")
			}
		})
	}

	t.Run("missing runs", func(t *testing.T) {
		t.Parallel()
		out := t.TempDir()
		writeRuns(t, out, Loopback, e, 50, []int{50, 50}, nil)
		require.NoError(t, os.Rename(RunDir(out, Loopback, 2), RunDir(out, Loopback, 3)))
		c := Compare(out, Placements, []*harness.Experiment{e}, 0)
		assert.ErrorContains(t, c.Unread(), "run-2 is missing")
		assert.Contains(t, c.Pooled.Experiments[0].Versions["veth"].Error, "no such file")
		assert.Equal(t, 2, c.Pooled.Failed())
		assert.Empty(t, c.Runs["loopback"], "no run kept of a placement that cannot be read whole")
	})

	t.Run("the runs asked for, not older ones beyond them", func(t *testing.T) {
		t.Parallel()
		out := t.TempDir()
		writeRuns(t, out, Loopback, e, 50, []int{50, 50, 10}, nil)
		writeRuns(t, out, Veth, e, 50, []int{50, 50}, nil)
		c := Compare(out, Placements, []*harness.Experiment{e}, 2)
		require.NoError(t, c.Unread())
		assert.Len(t, c.Runs["loopback"], 2)
		assert.Equal(t, 100, c.Pooled.Experiments[0].Versions["loopback"].Count(a))
		assert.ErrorContains(t, Compare(out, Placements, []*harness.Experiment{e}, 3).Unread(), "veth: run-3 is missing")
	})
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
