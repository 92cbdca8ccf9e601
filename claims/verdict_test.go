package claims

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// figs builds figures of one interactive condition: TCP's and KCP fast's per-seed values.
func figs(cond Condition, tcp, kcp []Seed) []*Figures {
	mk := func(t Transport, ss []Seed) *Figures {
		f := &Figures{Case: Case{Workload: InteractiveEcho, Transport: t, Path: Hosts, Link: cond.Link}, PerSeed: map[uint64]Seed{}}
		for i, s := range ss {
			f.PerSeed[uint64(i+1)] = s
		}
		return f
	}
	return []*Figures{mk(TCP, tcp), mk(KCP(ModeFast), kcp)}
}

func TestCompareJudgesEachClaim(t *testing.T) {
	t.Parallel()
	cond := InteractiveConditions[3] // loss 10%
	tcp := []Seed{{Avg: 100, Max: 900, Overhead: 1.2}, {Avg: 110, Max: 1000, Overhead: 1.2}, {Avg: 90, Max: 800, Overhead: 1.2}}
	tests := []struct {
		name string
		kcp  []Seed
		want map[string]Verdict
	}{
		{"KCP far better and thrifty", []Seed{{Avg: 50, Max: 100, Overhead: 1.3}, {Avg: 55, Max: 110, Overhead: 1.3}, {Avg: 45, Max: 90, Overhead: 1.3}},
			map[string]Verdict{"average latency": Holds, "maximum latency": Holds, "bandwidth, interactive": Holds}},
		{"KCP no better and costly", []Seed{{Avg: 100, Max: 900, Overhead: 2.4}, {Avg: 110, Max: 1000, Overhead: 2.4}, {Avg: 90, Max: 800, Overhead: 2.4}},
			map[string]Verdict{"average latency": DoesNotHold, "maximum latency": DoesNotHold, "bandwidth, interactive": DoesNotHold}},
		{"spread over the bound", []Seed{{Avg: 40, Max: 200, Overhead: 1.2}, {Avg: 100, Max: 500, Overhead: 1.6}, {Avg: 60, Max: 300, Overhead: 1.3}},
			map[string]Verdict{"average latency": Inconclusive, "maximum latency": Inconclusive, "bandwidth, interactive": Inconclusive}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := map[string]Verdict{}
			for _, c := range Compare(figs(cond, tcp, tt.kcp)) {
				require.Equal(t, "fast", c.Mode)
				require.Equal(t, cond, c.Condition)
				got[c.Claim.Name] = c.Verdict
			}
			require.Equal(t, tt.want, got)
		})
	}
}

func TestOverall(t *testing.T) {
	t.Parallel()
	cl := Claims[0]
	mk := func(name string, v Verdict) Comparison {
		return Comparison{Claim: cl, Condition: Condition{Name: name}, Verdict: v}
	}
	tests := []struct {
		in   []Comparison
		want string
	}{
		{nil, "not measured"},
		{[]Comparison{mk("a", Holds), mk("b", Holds)}, "holds"},
		{[]Comparison{mk("a", Holds), mk("b", DoesNotHold)}, "holds only under these conditions: a"},
		{[]Comparison{mk("a", DoesNotHold), mk("b", Inconclusive)}, "does not hold (inconclusive: b)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, Overall(tt.in))
		})
	}
}

func TestIntervalOf(t *testing.T) {
	t.Parallel()
	iv := IntervalOf([]float64{10, 12, 14})
	require.InDelta(t, 12, iv.Mean, 1e-9)
	// s = 2, se = 2/sqrt(3), t(0.975, 2) = 4.303
	require.InDelta(t, 12-4.303*2/1.7320508, iv.Lo, 1e-3)
	require.InDelta(t, 12+4.303*2/1.7320508, iv.Hi, 1e-3)
	require.Equal(t, Interval{5, 5, 5, 1}, IntervalOf([]float64{5}))
}

// TestModeTableComparesWithTestCpp: each figure's interval against test.cpp's ± max(4 ms, 12.5%)
// (fast: avg 138±17.25, max 392±49), and the mode's verdict from the two.
func TestModeTableComparesWithTestCpp(t *testing.T) {
	t.Parallel()
	iv := func(lo, hi float64) Interval { return Interval{Mean: (lo + hi) / 2, Lo: lo, Hi: hi, N: 5} }
	for _, tc := range []struct {
		name     string
		avg, max Interval
		wantAvg  Verdict
		wantMax  Verdict
		want     Verdict
	}{
		{"both inside their bands", iv(130, 150), iv(370, 400), Holds, Holds, Holds},
		{"an interval at the band's edges holds", iv(120.75, 155.25), iv(343, 441), Holds, Holds, Holds},
		{"max straddles its band's top", iv(130, 150), iv(400, 500), Holds, Inconclusive, Inconclusive},
		{"max wholly above", iv(130, 150), iv(500, 700), Holds, DoesNotHold, DoesNotHold},
		{"avg wholly below: faster than published is not reproducing it", iv(100, 120), iv(370, 400), DoesNotHold, Holds, DoesNotHold},
		{"one out and one straddling: not reproduced", iv(160, 170), iv(400, 500), DoesNotHold, Inconclusive, DoesNotHold},
		{"a wide interval around the figure is inconclusive", iv(100, 180), iv(370, 400), Inconclusive, Holds, Inconclusive},
		{"one seed: its value decides", Interval{Mean: 140, Lo: 140, Hi: 140, N: 1}, Interval{Mean: 450, Lo: 450, Hi: 450, N: 1}, Holds, DoesNotHold, DoesNotHold},
		{"no seed completed: no verdict", Interval{}, Interval{}, Inconclusive, Inconclusive, Inconclusive},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := &Figures{Case: Case{Workload: ModeTableEcho, Transport: KCP(ModeFast), Path: Loopback, Link: ModeTableLink}, Avg: tc.avg, Max: tc.max}
			got := ModeTable([]*Figures{f})
			require.Len(t, got, 1)
			assert.Equal(t, tc.wantAvg, got[0].Avg, "avg")
			assert.Equal(t, tc.wantMax, got[0].Max, "max")
			assert.Equal(t, tc.want, got[0].Verdict())
		})
	}
}

// TestModeVerdictSettlesWithMoreSeeds: the same true RTT, 4% off the published one, measured with
// more and more seeds (the interval narrowing around it) goes from inconclusive to reproduced and
// stays there. Asking that the interval contain the published figure would do the opposite: more
// seeds would end in "not reproduced".
func TestModeVerdictSettlesWithMoreSeeds(t *testing.T) {
	t.Parallel()
	const published, truth = 138.0, 143.5
	var verdicts []Verdict
	for _, halfWidth := range []float64{40, 20, 10, 5, 2, 1} {
		verdicts = append(verdicts, within(Interval{Mean: truth, Lo: truth - halfWidth, Hi: truth + halfWidth, N: 5}, published))
	}
	assert.Equal(t, []Verdict{Inconclusive, Inconclusive, Holds, Holds, Holds, Holds}, verdicts)
}
