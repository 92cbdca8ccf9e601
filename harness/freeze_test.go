package harness

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFrozenTrialRunsAgain runs real ping-pong trials whose first attempts (or every attempt) get an
// extra copy of the first segment, so that they fit no class, and a stall of the process: a stall of
// at least FreezeLimit makes the attempt run again, its capture kept; a shorter one leaves the trial
// failed; a trial that keeps freezing fails on its last attempt with what Classify said.
func TestFrozenTrialRunsAgain(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		brokenRuns  int           // attempts of each trial that get the extra segment and the stall
		stall       time.Duration // the stall those attempts saw
		wantAgain   int           // attempts run again, per trial
		wantClassed bool
	}{
		{"clean", 0, 0, 0, true},
		{"first attempt frozen", 1, 2 * FreezeLimit, 1, true},
		{"first attempt broken under a short stall", 1, FreezeLimit / 2, 0, false},
		{"first attempt broken, no stall", 1, 0, 0, false},
		{"every attempt frozen", maxCrossedRuns, 2 * FreezeLimit, maxCrossedRuns - 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := pingPong(pingPongAnswered)
			run, attempts := attemptsOf(t, e, func(tr *Trace, attempt int) {
				if attempt <= tc.brokenRuns {
					tr.Segments = append(tr.Segments, tr.Segments[0])
					tr.Stalls = nil
					if tc.stall > 0 {
						tr.Stalls = Stalls{{From: 0, To: tc.stall}}
					}
				}
			})
			const trials = 2
			res := &Result{Experiment: e, Capture: CaptureTap, Parallel: trials, Trials: make([]TrialResult, trials), Counts: map[string]int{}}
			res, err := runTrials(context.Background(), e, RunOptions{OutDir: t.TempDir()}, res, run)
			require.NoError(t, err)

			assert.Len(t, res.Crossed(), trials*tc.wantAgain)
			for _, tr := range res.Trials {
				assert.Equal(t, tc.wantAgain+1, attempts[tr.Trial], "attempts of trial %d", tr.Trial)
				for _, c := range tr.Crossed {
					require.NotNil(t, c.Froze)
					assert.InDelta(t, ms(tc.stall), c.Froze.StalledMs, 0.001)
					assert.Contains(t, c.Error(), "stalled")
					assert.FileExists(t, c.Pcapng)
					assert.Contains(t, filepath.Base(c.Pcapng), "-frozen-")
				}
				if tc.wantClassed {
					assert.NoError(t, tr.Err)
					assert.Equal(t, "answered", tr.Class.Name)
					continue
				}
				var tf *TrialFailure
				require.ErrorAs(t, tr.Err, &tf, "the last attempt fails with Classify's own error")
				assert.Equal(t, FailNoClass, tf.Failures[0].Kind)
			}
		})
	}
}

// TestFrozenKinds: which failures under a freeze make an attempt run again.
func TestFrozenKinds(t *testing.T) {
	t.Parallel()
	fail := func(kinds ...FailureKind) error {
		f := &TrialFailure{}
		for _, k := range kinds {
			f.add(Failure{Kind: k}, errors.New(string(k)))
		}
		return f
	}
	for _, tc := range []struct {
		name     string
		err      error
		stall    time.Duration
		wantWhat string // "": not run again
	}{
		{"no class, frozen", fail(FailNoClass), FreezeLimit, "fit no class"},
		{"invariant and no class, frozen", fail(FailInvariant, FailNoClass), 3 * FreezeLimit, "broke an invariant"},
		{"no class, short stall", fail(FailNoClass), FreezeLimit - time.Millisecond, ""},
		{"several classes, frozen", fail(FailSeveralClasses), 2 * FreezeLimit, ""},
		{"never early, frozen", fail(FailNoClass, FailNeverEarly), 2 * FreezeLimit, ""},
		{"not a classification error", errors.New("run error"), 2 * FreezeLimit, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, ok := frozen(&Trace{Stalls: Stalls{{From: 0, To: tc.stall}}}, tc.err, FreezeLimit)
			assert.Equal(t, tc.wantWhat != "", ok)
			assert.Equal(t, tc.wantWhat, f.What)
		})
	}
}

// TestFrozenFor: stalls close together add up to a freeze; the same stalls far apart do not.
func TestFrozenFor(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	for _, tc := range []struct {
		name   string
		stalls Stalls
		rto    time.Duration
		want   time.Duration
	}{
		{"one long stall", Stalls{{From: 10 * ms, To: 130 * ms}}, 100 * ms, 120 * ms},
		{"two close stalls", Stalls{{From: 0, To: 43 * ms}, {From: 50 * ms, To: 120 * ms}}, 100 * ms, 113 * ms},
		{"two stalls far apart", Stalls{{From: 0, To: 60 * ms}, {From: 500 * ms, To: 560 * ms}}, 100 * ms, 60 * ms},
		{"nodelay's short RTO", Stalls{{From: 0, To: 40 * ms}}, 30 * ms, 40 * ms},
		{"none", nil, 100 * ms, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, frozenFor(tc.stalls, tc.rto))
		})
	}
}

// TestCrossedRunJSON: in summary.json a frozen attempt carries its freeze and no crossing's fields,
// and a crossed one its crossing; both read back as written.
func TestCrossedRunJSON(t *testing.T) {
	t.Parallel()
	for _, run := range []CrossedRun{
		{Froze: &Freeze{StalledMs: 120, MinRTOMs: 100, What: "fit no class"}, Pcapng: "trial-001-frozen-1.pcapng"},
		{Crossing: &Crossing{By: "x trial 2", Conv: 7, Datagram: 3}, Pcapng: "trial-001-crossed-1.pcapng"},
	} {
		b, err := json.Marshal(run)
		require.NoError(t, err)
		assert.Equal(t, run.Froze != nil, strings.Contains(string(b), `"froze"`), "%s", b)
		assert.Equal(t, run.Crossing != nil, strings.Contains(string(b), `"by"`), "%s", b)
		var back CrossedRun
		require.NoError(t, json.Unmarshal(b, &back))
		assert.Equal(t, run, back)
	}
}
