package report

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFisherP(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name           string
		k1, n1, k2, n2 int
		want           float64
	}{
		{"tea tasting: 3 of 4 against 1 of 4", 3, 4, 1, 4, 34.0 / 70},
		{"dieting: 1 of 10 against 11 of 14", 1, 10, 11, 14, 0.002759},
		{"all against none: the two most extreme splits", 0, 10, 10, 10, 2.0 / 184756},
		{"the same share", 5, 10, 5, 10, 1},
		{"a class no trial fell into", 0, 200, 0, 200, 1},
		{"no trials", 0, 0, 3, 10, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := FisherP(tc.k1, tc.n1, tc.k2, tc.n2)
			assert.InDelta(t, tc.want, got, 5e-7+1e-3*tc.want)
			assert.InDelta(t, got, FisherP(tc.k2, tc.n2, tc.k1, tc.n1), 1e-12, "symmetric in the runs")
		})
	}
}

// TestFisherPErrorRates draws pairs of 200-trial runs from binomial shares, seeded: runs of one share
// must be named different at p < 0.05 in at most 5% of pairs (the test is exact, so at most its
// level), and runs of 10% against 25%, a move the p003 class makes between run sizes, in nearly all.
func TestFisherPErrorRates(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	draw := func(p float64) int {
		k := 0
		for range 200 {
			if rng.Float64() < p {
				k++
			}
		}
		return k
	}
	rate := func(pa, pb float64) float64 {
		const pairs = 1000
		named := 0
		for range pairs {
			if FisherP(draw(pa), 200, draw(pb), 200) < 0.05 {
				named++
			}
		}
		return float64(named) / pairs
	}
	assert.LessOrEqual(t, rate(0.2, 0.2), 0.05, "named a difference between runs of one share")
	assert.LessOrEqual(t, rate(0.03, 0.03), 0.05, "named a difference between runs of one rare share")
	assert.GreaterOrEqual(t, rate(0.10, 0.25), 0.95, "missed a move from 10% to 25%")
}

// twoRuns is a run of p003 and p001 on v5.7.6 and one of p003 and p004 on v5.6.1, 200 trials each.
func twoRuns() (a, b *Matrix) {
	a = &Matrix{Versions: []string{"v5.7.6"}, Experiments: []MatrixExperiment{{
		ID: "p003", Title: "close", Classes: []string{"delivered", "response lost at Close", "never"},
		Versions: map[string]*VersionCounts{"v5.7.6": {Trials: 200, Classes: map[string]int{"delivered": 170, "response lost at Close": 30},
			Capture: "live", Parallel: 25, InFlightMean: 82.4}},
	}, {
		ID: "p001", Title: "echo", Classes: []string{"echoed"},
		Versions: map[string]*VersionCounts{"v5.7.6": {Trials: 200, Classes: map[string]int{"echoed": 200}}},
	}}}
	b = &Matrix{Versions: []string{"v5.6.1"}, Experiments: []MatrixExperiment{{
		ID: "p003", Title: "close", Classes: []string{"delivered", "response lost at Close", "never"},
		Versions: map[string]*VersionCounts{"v5.6.1": {Trials: 200, Classes: map[string]int{"delivered": 120, "response lost at Close": 79, "later": 1},
			Failed: 0, Capture: "tap", Parallel: 20, InFlightMean: 19.6, GoMaxProcs: 2, CPUs: 2, Stalled: 193}},
	}, {
		ID: "p004", Title: "keepalive", Classes: []string{"x"},
		Versions: map[string]*VersionCounts{"v5.6.1": {Trials: 200, Classes: map[string]int{"x": 200}}},
	}}}
	return a, b
}

// one is a side of one run.
func one(name string, m *Matrix) Side { return Side{Name: name, Runs: []*Matrix{m}} }

func TestCompare(t *testing.T) {
	t.Parallel()
	a, b := twoRuns()
	cmp, err := Compare(one("before", a), one("after", b), 0.05)
	require.NoError(t, err)
	require.Len(t, cmp.Cells, 1, "p003 only: p001 and p004 ran in one run each")
	assert.Equal(t, []string{"p001@v5.7.6"}, cmp.OnlyA)
	assert.Equal(t, []string{"p004@v5.6.1"}, cmp.OnlyB)
	cell := cmp.Cells[0]
	assert.Equal(t, "v5.7.6 → v5.6.1", cell.Version, "two one-version runs are compared whatever their versions")
	var names []string
	for _, cc := range cell.Classes {
		names = append(names, cc.Class)
	}
	assert.Equal(t, []string{"delivered", "response lost at Close", "never", "later"}, names, "named classes, then any other either run saw")
	assert.Equal(t, 3, cmp.Tests(), "\"never\" had no trial in either run: nothing to test")
	assert.InDelta(t, 0.05/3, cmp.Threshold(), 1e-12)
	assert.True(t, cmp.Differs(cell.Classes[0]), "170 against 120 of 200")
	assert.True(t, cmp.Differs(cell.Classes[1]), "30 against 79 of 200")
	assert.False(t, cmp.Differs(cell.Classes[3]), "0 against 1 of 200")
	differ, weak := cmp.Differing()
	assert.Equal(t, 2, differ)
	assert.Equal(t, 0, weak)

	same, err := Compare(one("a", a), one("a", a), 0.05)
	require.NoError(t, err)
	differ, _ = same.Differing()
	assert.Zero(t, differ, "a run against itself")
}

func TestCompareVersionsInCommon(t *testing.T) {
	t.Parallel()
	m := synthetic() // four versions
	other := synthetic()
	other.Versions = []string{"v5.6.1", "v5.7.6", "v5.8.0"}
	cmp, err := Compare(one("a", m), one("b", other), 0.05)
	require.NoError(t, err)
	var cells []string
	for _, c := range cmp.Cells {
		cells = append(cells, c.ID+"@"+c.Version)
	}
	assert.Equal(t, []string{"p003@v5.6.1", "p003@v5.7.6", "p001@v5.6.1", "p001@v5.7.6"}, cells)

	_, err = Compare(one("a", m), one("b", &Matrix{Versions: []string{"v1", "v2"}}), 0.05)
	require.ErrorIs(t, err, ErrNothingInCommon)
}

// TestComparisonGolden renders a comparison of one run against one, and one of runs, several a side,
// each in full and with only the classes at p < alpha (-changes: a cell without one is left out).
func TestComparisonGolden(t *testing.T) {
	t.Parallel()
	a, b := twoRuns()
	for _, tc := range []struct {
		name        string
		golden      string
		a, b        Side
		changesOnly bool
	}{
		{"one run a side", "comparison", one("testdata/matrix.json", a), one("out", b), false},
		{"one run a side, changes", "comparison-changes", one("testdata/matrix.json", a), one("out", b), true},
		{"several runs a side", "comparison-runs", runsOf("out/a,out/b,out/c", 200, 21, 63, 43), runsOf("out/d,out/e", 200, 18, 46), false},
		{"several runs a side, changes", "comparison-runs-changes", runsOf("out/a,out/b,out/c", 200, 21, 63, 43), runsOf("out/d,out/e", 200, 18, 46), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cmp, err := Compare(tc.a, tc.b, 0.05)
			require.NoError(t, err)
			var s strings.Builder
			WriteComparisonText(&s, cmp, tc.changesOnly)
			golden(t, tc.golden, s.String())
			assert.False(t, strings.Contains(s.String(), " \n"), "no line ends in a space")
		})
	}
}

// TestCompareOverRunsFewRuns: with few runs on each side, whose shares scatter from 8% to 30%, the
// test over runs still names a difference between sides of one distribution at p < 0.05 in at most
// about 5% of seeded pairs (the reference is then always t: minRunsDF).
func TestCompareOverRunsFewRuns(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 8))
	side := func(runs int) Side {
		ks := make([]int, runs)
		for i := range ks {
			p := 0.08 + 0.22*rng.Float64()
			for range 200 {
				if rng.Float64() < p {
					ks[i]++
				}
			}
		}
		return runsOf("", 200, ks...)
	}
	for _, runs := range [][2]int{{1, 2}, {2, 2}, {2, 3}, {3, 3}} {
		t.Run(fmt.Sprintf("%d against %d", runs[0], runs[1]), func(t *testing.T) {
			named := 0
			const pairs = 2000
			for range pairs {
				cmp, err := Compare(side(runs[0]), side(runs[1]), 0.05)
				require.NoError(t, err)
				if cmp.Cells[0].Classes[0].P < 0.05 {
					named++
				}
			}
			assert.LessOrEqual(t, float64(named)/pairs, 0.06)
		})
	}
}

// TestFisherPLarge: counts at the flags' limit stay finite and exact enough to order.
func TestFisherPLarge(t *testing.T) {
	t.Parallel()
	p := FisherP(50000, 100000, 50300, 100000)
	assert.False(t, math.IsNaN(p) || p <= 0 || p > 1, "p = %g", p)
	assert.Less(t, FisherP(50000, 100000, 51000, 100000), p)
}

// runsOf is a side of runs of one experiment, "x", each with n trials and ks[i] of them in class "c".
func runsOf(name string, n int, ks ...int) Side {
	sd := Side{Name: name}
	for _, k := range ks {
		sd.Runs = append(sd.Runs, &Matrix{Versions: []string{"v5.7.6"}, Experiments: []MatrixExperiment{{
			ID: "x", Classes: []string{"c", "other"},
			Versions: map[string]*VersionCounts{"v5.7.6": {Trials: n, Classes: map[string]int{"c": k, "other": n - k}}},
		}}})
	}
	return sd
}

// TestCompareOverRuns: with several runs on a side, the spread between them (Pearson χ² over its
// degrees of freedom) scales the variance, and p is Student's t with runs − 2 degrees of freedom; for
// 2 degrees of freedom its two-sided p is 1 − t/√(t² + 2).
func TestCompareOverRuns(t *testing.T) {
	t.Parallel()
	cmp, err := Compare(runsOf("a", 200, 20, 60), runsOf("b", 200, 50, 50), 0.05)
	require.NoError(t, err)
	require.Len(t, cmp.Cells, 1)
	cell := cmp.Cells[0]
	assert.Len(t, cell.RunsA, 2)
	assert.Equal(t, 400, cell.A.Trials, "a side's runs pooled")
	c := cell.Classes[0]
	require.Equal(t, "c", c.Class)
	// A: 80 of 400, each run 20 from its expected 40 (χ² 12.5 + 12.5); B: both runs at their share.
	assert.InDelta(t, 12.5, c.Dispersion, 1e-9)
	both := 180.0 / 800
	tstat := 0.05 / math.Sqrt(both*(1-both)*(2.0/400)*12.5)
	assert.InDelta(t, 1-tstat/math.Sqrt(tstat*tstat+2), c.P, 1e-9)

	// Six runs that scatter no more than binomial draws are tested as pooled trials: the two-proportion z.
	agree, err := Compare(runsOf("a", 200, 20, 20, 20), runsOf("b", 200, 40, 40, 40), 0.05)
	require.NoError(t, err)
	c = agree.Cells[0].Classes[0]
	assert.Zero(t, c.Dispersion)
	z := 0.1 / math.Sqrt(0.15*0.85*(2.0/600))
	assert.InDelta(t, math.Erfc(z/math.Sqrt2), c.P, 1e-12)
	assert.True(t, agree.Differs(c), "p = %g", c.P)

	// Four runs tell too little of their spread: the same z, against t with 2 degrees of freedom.
	few, err := Compare(runsOf("a", 200, 20, 20), runsOf("b", 200, 40, 40), 0.05)
	require.NoError(t, err)
	c = few.Cells[0].Classes[0]
	z = 0.1 / math.Sqrt(0.15*0.85*(2.0/400))
	assert.InDelta(t, 1-z/math.Sqrt(z*z+2), c.P, 1e-9)

	_, err = Compare(Side{Name: "a", Runs: []*Matrix{synthetic(), runsOf("x", 1, 1).Runs[0]}}, runsOf("b", 1, 1), 0.05)
	require.ErrorIs(t, err, ErrMixedSide)
}

// TestCompareOverRunsErrorRates draws sides of five 200-trial runs, seeded, where each run's own share
// is drawn from 8% to 30% (runs that scatter far beyond binomial draws, as p003's ACKed class does):
// between two sides of that one distribution the test over runs names a difference at p < 0.05 in
// few pairs (it is approximate, so a little above 5% is allowed), where Fisher's exact test on the
// pooled counts, which takes the trials as independent, names one in many. Between sides of
// binomial runs at 10% and 15% the test over runs still finds the move in most pairs.
func TestCompareOverRunsErrorRates(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	side := func(share func() float64) Side {
		ks := make([]int, 5)
		for i := range ks {
			p := share()
			for range 200 {
				if rng.Float64() < p {
					ks[i]++
				}
			}
		}
		return runsOf("", 200, ks...)
	}
	scattered := func() float64 { return 0.08 + 0.22*rng.Float64() }
	rates := func(sa, sb func() float64) (overRuns, fisher float64) {
		const pairs = 1000
		var nr, nf int
		for range pairs {
			cmp, err := Compare(side(sa), side(sb), 0.05)
			require.NoError(t, err)
			c := cmp.Cells[0].Classes[0]
			if c.P < 0.05 {
				nr++
			}
			if FisherP(c.KA, cmp.Cells[0].A.Trials, c.KB, cmp.Cells[0].B.Trials) < 0.05 {
				nf++
			}
		}
		return float64(nr) / pairs, float64(nf) / pairs
	}
	byRuns, fisher := rates(scattered, scattered)
	t.Logf("one scattered distribution: named by the test over runs in %.3f of pairs, by Fisher's in %.3f", byRuns, fisher)
	assert.LessOrEqual(t, byRuns, 0.07, "named a difference between sides of one scattered distribution")
	assert.GreaterOrEqual(t, fisher, 0.3, "Fisher's test on pooled counts should be fooled by runs that scatter")
	byRuns, fisher = rates(func() float64 { return 0.10 }, func() float64 { return 0.15 })
	t.Logf("binomial runs at 10%% and 15%%: found by the test over runs in %.3f of pairs, by Fisher's in %.3f", byRuns, fisher)
	assert.GreaterOrEqual(t, byRuns, 0.75, "missed a move from 10% to 15% over five runs a side")
}

func TestPoolKeepsWhatEveryRunShared(t *testing.T) {
	t.Parallel()
	run := func(capture string, parallel, procs int) *VersionCounts {
		return &VersionCounts{Trials: 200, Classes: map[string]int{"x": 200}, Capture: capture, Parallel: parallel, GoMaxProcs: procs, CPUs: 2}
	}
	for _, tc := range []struct {
		name string
		runs []*VersionCounts
		want string
	}{
		{"alike", []*VersionCounts{run("tap", 20, 2), run("tap", 20, 2)}, "tap capture, 20 at once, GOMAXPROCS 2 on 2 CPUs"},
		{"GOMAXPROCS differs", []*VersionCounts{run("tap", 20, 2), run("tap", 20, 4)}, "tap capture, 20 at once"},
		{"capture and parallel differ", []*VersionCounts{run("tap", 20, 2), run("live", 5, 2)}, "mixed capture, GOMAXPROCS 2 on 2 CPUs"},
		{"not recorded", []*VersionCounts{run("tap", 20, 0)}, "tap capture, 20 at once"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := pool(tc.runs)
			assert.Equal(t, tc.want, p.runLine())
			assert.Equal(t, 200*len(tc.runs), p.Trials)
		})
	}
}

func TestOtherProcessors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		procs, cpus int // side A's; side B ran GOMAXPROCS 2 on 2 CPUs
		want        int
	}{
		{"same", 2, 2, 0},
		{"other GOMAXPROCS", 4, 2, 1},
		{"other CPUs", 2, 4, 1},
		{"not recorded", 0, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, b := twoRuns()
			a.Experiments[0].Versions["v5.7.6"].GoMaxProcs = tc.procs
			a.Experiments[0].Versions["v5.7.6"].CPUs = tc.cpus
			cmp, err := Compare(one("a", a), one("b", b), 0.05)
			require.NoError(t, err)
			assert.Equal(t, tc.want, cmp.OtherProcessors())
			var out strings.Builder
			WriteComparisonText(&out, cmp, false)
			assert.Equal(t, tc.want > 0, strings.Contains(out.String(), "ran on other processors"))
		})
	}
}

// TestClassPFarApart: runs far apart that scatter as binomial draws get a tiny p, not 0 (the normal
// tail, taken as 1 − CDF, rounds to 0 beyond z ≈ 8.3).
func TestClassPFarApart(t *testing.T) {
	t.Parallel()
	runs := func(ks ...int) []*VersionCounts {
		var out []*VersionCounts
		for _, k := range ks {
			out = append(out, &VersionCounts{Trials: 200, Classes: map[string]int{"x": k}})
		}
		return out
	}
	p := ClassP("x", runs(95, 86, 85), runs(147, 136, 138))
	assert.Greater(t, p, 0.0)
	assert.Less(t, p, 1e-15)
}
