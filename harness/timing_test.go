package harness

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"kcplab/kcpwire"
)

func msf(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }

// tickTiming is the client's ACK at its next update tick, as p003 expects it.
var tickTiming = stepTimings(Ladder{Push(C2S), Ack(S2C), Push(S2C), Ack(C2S).At(100 * time.Millisecond)})[0]

// samplesAt makes one sample per value (ms), trial numbers from 1.
func samplesAt(vals ...float64) []sample {
	out := make([]sample, len(vals))
	for i, v := range vals {
		out[i] = sample{trial: i + 1, got: msf(v), at: msf(v)}
	}
	return out
}

// repeat returns v n times.
func repeat(v float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// TestJudge: a distribution fails when kcp-go's timing changed (the median moved, or many trials
// missed), never because a few trials were descheduled.
func TestJudge(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		vals   []float64
		judged bool
		ok     bool
		why    string
	}{
		{"all on time", repeat(100.4, 20), true, true, ""},
		{"a descheduled trial is an outlier, not a failure", append(repeat(100.4, 19), 162.1), true, true, ""},
		{"a fifth of the trials late is a machine's worst; still kcp-go's timing", append(repeat(100.4, 16), repeat(140, 4)...), true, true, ""},
		{"a quarter late is not kcp-go's timing", append(repeat(100.4, 15), repeat(140, 5)...), true, false, "only 15 of 20 trials within tolerance"},
		// The update interval set to 50 ms: every tick comes early.
		{"the interval changed to 50 ms", repeat(50.2, 20), true, false, "median 50.2ms is outside 100ms±12.5ms"},
		{"the median moved within the share rule", append(repeat(112, 11), repeat(88, 9)...), true, true, ""},
		{"too few trials are reported, not judged", []float64{100, 180}, false, true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := judge("delivered", tickTiming, samplesAt(tc.vals...))
			assert.Equal(t, tc.judged, v.Judged)
			assert.Equal(t, tc.ok, v.OK, v.String())
			if tc.why != "" {
				assert.Contains(t, v.Why, tc.why)
			}
			assert.Equal(t, len(tc.vals), v.N)
		})
	}
}

// TestJudgeListsOutliersWithTheirStall: every value outside tolerance is listed with the stall the
// probe measured between its due time and when it came.
func TestJudgeListsOutliersWithTheirStall(t *testing.T) {
	t.Parallel()
	s := samplesAt(append(repeat(100.4, 9), 162.1)...)
	s[9].stalls = Stalls{{From: msf(92), To: msf(160)}}
	v := judge("delivered", tickTiming, s)
	require.Len(t, v.Outliers, 1)
	assert.Equal(t, 10, v.Outliers[0].Trial)
	assert.Equal(t, msf(162.1), v.Outliers[0].Got)
	assert.Equal(t, msf(160-92), v.Outliers[0].Stall, "the stall from before the due time (87.5ms) until the value")
	assert.True(t, v.Outliers[0].Explained, "68 ms of stall explain a value 49.6 ms beyond tolerance")
	assert.Equal(t, 1, v.Explained)
	assert.Contains(t, v.String(), "trial 10 162.1ms (explained: process stalled 68.0ms around it)")
	assert.Contains(t, v.String(), "9/9 within 100ms±12.5ms (1 more late by a measured stall)")
}

// TestJudgeLeavesOutClumpsAStallExplains: trials run at once, so one stall of the process delays the
// steps of every trial due in it. Values it explains are the machine's; values it does not explain,
// or early ones, still count.
func TestJudgeLeavesOutClumpsAStallExplains(t *testing.T) {
	t.Parallel()
	clump := Stalls{{From: msf(95), To: msf(125)}} // 30 ms
	tests := []struct {
		name  string
		late  float64 // value of the 6 trials in the clump
		stall Stalls
		ok    bool
	}{
		{"a clump the stall explains", 125, clump, true},
		{"a clump within the stall's catch-up", 145, clump, true},
		{"a clump later than the stall and its catch-up explain", 150, clump, false},
		{"a clump without a measured stall", 125, nil, false},
		{"early values are never explained", 60, clump, false},
		// A tick chained from the session's start (Timing.Chained): a stall long before the value
		// delayed every later tick; for a value timed from another event it explains nothing.
		{"an earlier stall delays a chained tick", 125, Stalls{{From: msf(10), To: msf(40)}}, true},
		{"an earlier stall is not around an unchained value", 125, Stalls{{From: msf(10), To: msf(40)}}, false},
		{"a chained tick later than all stalls explain", 150, Stalls{{From: msf(10), To: msf(40)}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := samplesAt(append(repeat(100.4, 14), repeat(tc.late, 6)...)...)
			for i := 14; i < 20; i++ {
				s[i].stalls = tc.stall
			}
			timing := tickTiming
			timing.Chained = strings.Contains(tc.name, "chained tick")
			v := judge("delivered", timing, s)
			assert.Equal(t, tc.ok, v.OK, v.String())
		})
	}
}

// TestJudgeAfterLongStalls replays step 1 of nobody-listening (the request's first transmission, due
// at the trial's start) in a make test run whose machine stalled for 10-378 ms: each value came as
// late as the stall in its window or up to 17 ms (3-7%) later, as the process caught up. Every value
// is the machine's, so the verdict is not judged (the harness then runs more trials), and it does not
// fail, as it did when a stall explained no more than its own length.
func TestJudgeAfterLongStalls(t *testing.T) {
	t.Parallel()
	first := stepTimings(Ladder{Push(C2S).At(0)})[0]
	outliers := [][2]float64{ // value, stall in its window (ms)
		{13.8, 10.5}, {77.3, 76.9}, {272.7, 256.5}, {394.7, 377.9}, {284.0, 267.8}, {198.1, 198.8}, {100.5, 93.0},
		{297.9, 281.7}, {67.3, 71.3}, {223.3, 206.4}, {114.9, 104.6}, {327.4, 331.4}, {290.1, 294.1}, {16.4, 20.4},
		{180.8, 164.6}, {291.6, 295.6}, {188.7, 171.9}, {329.7, 333.7}, {326.8, 330.8},
	}
	var s []sample
	for i, o := range outliers {
		s = append(s, sample{trial: i + 1, got: msf(o[0]), at: msf(o[0]), stalls: Stalls{{From: 0, To: msf(o[1])}}})
	}
	s = append(s, sample{trial: 20, got: msf(1.9), at: msf(1.9)})
	v := judge("retransmitted", first, s)
	assert.Equal(t, len(outliers), v.Explained, v.String())
	assert.False(t, v.Judged, v.String())
	assert.True(t, v.OK, v.String())
	assert.True(t, needMoreTrials([]Verdict{v}), "more trials, in quieter windows, can judge it")
}

// TestStepTimings: a step timed from the trial's start is measured from it and can never be early; a
// step timed from the previous segment is measured from that segment's capture.
func TestStepTimings(t *testing.T) {
	t.Parallel()
	l := Ladder{Push(C2S), Push(S2C).After(200 * time.Millisecond), Ack(C2S).At(100 * time.Millisecond)}
	ts := stepTimings(l)
	require.Len(t, ts, 2)
	tr := &Trace{Segments: []Seg{
		seg(C2S, kcpwire.CmdPush, 0, 0, 9, msf(1)),
		seg(S2C, kcpwire.CmdPush, 0, 1, 5, msf(190)),
		seg(C2S, kcpwire.CmdAck, 0, 1, 0, msf(50)),
	}}
	tr.Segments[0].Ts, tr.Segments[1].Ts = 1000, 1195 // the sender's clock
	got, at, ok := ts[0].Measure(tr)
	assert.True(t, ok)
	assert.Equal(t, msf(189), got, "an ACK-free gap between two senders is taken between captures")
	assert.Equal(t, msf(190), at)
	assert.False(t, ts[0].NeverEarly)
	assert.NoError(t, ts[0].Early(tr), "a gap from a captured segment can come out short")

	got, _, ok = ts[1].Measure(tr)
	assert.True(t, ok)
	assert.Equal(t, msf(50), got)
	assert.True(t, ts[1].NeverEarly)
	assert.ErrorContains(t, ts[1].Early(tr), "cannot send it before it is due")

	_, _, ok = ts[1].Measure(&Trace{Segments: tr.Segments[:2]})
	assert.False(t, ok, "a trial without the step has no value")

	// A retransmission is timed by its sender's clock: the original's capture came 10 ms after its
	// flush, which does not shorten the gap.
	retx := stepTimings(Ladder{Push(S2C), Push(S2C).After(200 * time.Millisecond)})[0]
	assert.Contains(t, retx.Name, "by the sender's ts")
	rtr := &Trace{Segments: []Seg{seg(S2C, kcpwire.CmdPush, 0, 1, 5, msf(12)), seg(S2C, kcpwire.CmdPush, 0, 1, 5, msf(203))}}
	rtr.Segments[0].Ts, rtr.Segments[1].Ts = 4294967290, 194 // the clock wraps
	got, _, ok = retx.Measure(rtr)
	assert.True(t, ok)
	assert.Equal(t, msf(200), got)
}

func TestResultLoad(t *testing.T) {
	t.Parallel()
	stall := func(d time.Duration) Stalls { return Stalls{{From: 0, To: d}} }
	res := &Result{Trials: []TrialResult{
		{Trial: 1, Trace: &Trace{Stalls: stall(3 * time.Millisecond)}},
		{Trial: 2, Trace: &Trace{Stalls: stall(70 * time.Millisecond)}},
		{Trial: 3, Trace: &Trace{Stalls: stall(9 * time.Millisecond)}},
		{Trial: 4},
	}, Timing: []Verdict{{Outliers: []Outlier{{Trial: 2}}}}}
	assert.Equal(t, LoadSummary{Trials: 4, Stalled: 2, LongestMs: 70, LongestTrial: 2, TimingOutside: 1}, res.Load())
	assert.Equal(t, "machine load: the process stalled longer than 4ms in 2 of 4 trials (longest 70.0ms, trial 2); 1 timed value(s) outside tolerance",
		res.Load().String())
	assert.Empty(t, (&Result{Trials: res.Trials[:1]}).Load().String())
}

// TestJudgeSeesAUniformShiftThroughStalls simulates what the busy-machine rule must hold to: a run of
// 20 trials at once, started Stagger apart, in a process frozen for 30-80 ms at random moments (every
// 0.3-1.4 s, as TestStalledMachine does). Each trial's client ticks at its session's start and every
// interval after the previous tick ran, so a stall that covers a tick's due time delays it and every
// later one. At kcp-go's 100 ms the verdict must be judged and hold; with the interval 25 ms longer (a
// uniform shift, a changed kcp-go) it must be judged and fail, for every seed.
func TestJudgeSeesAUniformShiftThroughStalls(t *testing.T) {
	t.Parallel()
	e := &Experiment{Classes: []Class{{Name: "delivered", Ladder: Ladder{Push(C2S), Ack(C2S).At(100 * time.Millisecond)}}}}
	const par = 20
	stagger := Stagger(e, par)
	require.Greater(t, stagger, 4*(100*time.Millisecond+staggerStall)/par-time.Millisecond, "the stagger spreads a stall over a quarter of the trials")
	tests := []struct {
		name     string
		interval time.Duration
		ok       bool
	}{
		{"kcp-go's 100 ms", 100 * time.Millisecond, true},
		{"shifted by 25 ms", 125 * time.Millisecond, false},
		{"shifted by 50 ms", 150 * time.Millisecond, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for seed := range uint64(300) {
				rng := rand.New(rand.NewPCG(seed, 14))
				// The process's stalls over the run, in run time.
				var stalls Stalls
				for at := time.Duration(rng.IntN(1400)) * time.Millisecond; at < 3*time.Second; at += time.Duration(300+rng.IntN(1100)) * time.Millisecond {
					stalls = append(stalls, Stall{From: at, To: at + time.Duration(30+rng.IntN(51))*time.Millisecond})
				}
				samples := make([]sample, par)
				for i := range samples {
					start := time.Duration(i) * stagger
					own := make(Stalls, len(stalls)) // relative to the trial's start
					for j, st := range stalls {
						own[j] = Stall{From: st.From - start, To: st.To - start}
					}
					tick := delayed(own, 0)
					tick = delayed(own, tick+tc.interval) // the tick that ACKs the response
					samples[i] = sample{trial: i + 1, got: tick, at: tick, stalls: own}
				}
				v := judge("delivered", tickTiming, samples)
				require.True(t, v.Judged, "seed %d: %s", seed, v)
				require.Equal(t, tc.ok, v.OK, "seed %d: %s", seed, v)
			}
		})
	}
}

// delayed returns when a timer due at due fires in a process with stalls s: at the end of the stall
// that covers it, if any.
func delayed(s Stalls, due time.Duration) time.Duration {
	for _, st := range s {
		if st.From <= due && due < st.To {
			return st.To
		}
	}
	return due
}

// TestRunTopsUpTimingStallsLeftUnjudged: when stalls of the process explain so many values that too
// few are left to judge, the run runs more trials, par at a time and at most as many as it was asked
// for, until the verdict is judged; they count for timing only, not in the class shares.
func TestRunTopsUpTimingStallsLeftUnjudged(t *testing.T) {
	t.Parallel()
	class := Class{Name: "ticked", Ladder: Ladder{Ack(C2S).At(100 * time.Millisecond)}}
	e := &Experiment{ID: "fake", Classes: []Class{class}}
	tests := []struct {
		name      string
		stalled   int // trials, counted from 1, whose tick a stall (90-150 ms) delayed by 40 ms
		tick      float64
		extra     int
		judged    bool
		timingOK  bool
		counted   int
		whyPrefix string
	}{
		{"quiet trials are judged at once", 0, 100.3, 0, true, true, 10, ""},
		{"stalled trials get one more round", 8, 100.3, 4, true, true, 10, ""},
		{"a shift is judged in the quiet round", 8, 125.3, 4, true, false, 10, ""},
		{"at most as many more as asked for", 100, 100.3, 10, false, true, 10, "0 value(s) left, at least 5 needed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := &Result{Experiment: e, Parallel: 4, Stagger: startSpacing, Trials: make([]TrialResult, 10), Counts: map[string]int{}}
			run := func(_ context.Context, n int, _ uint64) (*Trace, error) {
				tr := &Trace{Trial: n, Segments: []Seg{seg(C2S, kcpwire.CmdAck, 0, 1, 0, msf(tc.tick))}}
				if n <= tc.stalled {
					tr.Segments[0].Time += msf(40)
					tr.Stalls = Stalls{{From: msf(90), To: msf(150)}}
				}
				return tr, nil
			}
			got, err := runTrials(context.Background(), e, RunOptions{}, res, run)
			require.NoError(t, err)
			require.Len(t, got.Timing, 1)
			v := got.Timing[0]
			assert.Len(t, got.TimingTrials, tc.extra)
			assert.Equal(t, tc.judged, v.Judged, v.String())
			assert.Equal(t, tc.timingOK, v.OK, v.String())
			assert.Equal(t, tc.counted, got.Counts[class.Name], "timing-only trials are not counted")
			assert.Equal(t, 10+tc.extra, v.N)
			assert.True(t, strings.HasPrefix(v.Why, tc.whyPrefix), v.Why)
			if !tc.judged {
				assert.Contains(t, v.String(), "late by no more than the process stalled in their own window (stalls of 50.3ms)", "the part of the stall in each value's own window")
			}
		})
	}
}
