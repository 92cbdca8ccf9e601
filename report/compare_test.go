package report

import (
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
			Failed: 0, Capture: "tap", Parallel: 20, InFlightMean: 19.6}},
	}, {
		ID: "p004", Title: "keepalive", Classes: []string{"x"},
		Versions: map[string]*VersionCounts{"v5.6.1": {Trials: 200, Classes: map[string]int{"x": 200}}},
	}}}
	return a, b
}

func TestCompare(t *testing.T) {
	t.Parallel()
	a, b := twoRuns()
	cmp, err := Compare(a, b, "before", "after", 0.05)
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

	same, err := Compare(a, a, "a", "a", 0.05)
	require.NoError(t, err)
	differ, _ = same.Differing()
	assert.Zero(t, differ, "a run against itself")
}

func TestCompareVersionsInCommon(t *testing.T) {
	t.Parallel()
	m := synthetic() // four versions
	other := synthetic()
	other.Versions = []string{"v5.6.1", "v5.7.6", "v5.8.0"}
	cmp, err := Compare(m, other, "a", "b", 0.05)
	require.NoError(t, err)
	var cells []string
	for _, c := range cmp.Cells {
		cells = append(cells, c.ID+"@"+c.Version)
	}
	assert.Equal(t, []string{"p003@v5.6.1", "p003@v5.7.6", "p001@v5.6.1", "p001@v5.7.6"}, cells)

	_, err = Compare(m, &Matrix{Versions: []string{"v1", "v2"}}, "a", "b", 0.05)
	require.ErrorIs(t, err, ErrNothingInCommon)
}

func TestComparisonGolden(t *testing.T) {
	t.Parallel()
	a, b := twoRuns()
	cmp, err := Compare(a, b, "testdata/matrix.json", "out", 0.05)
	require.NoError(t, err)
	var s strings.Builder
	WriteComparisonText(&s, cmp)
	golden(t, "comparison", s.String())
	assert.False(t, strings.Contains(s.String(), " \n"), "no line ends in a space")
}

// TestFisherPLarge: counts at the flags' limit stay finite and exact enough to order.
func TestFisherPLarge(t *testing.T) {
	t.Parallel()
	p := FisherP(50000, 100000, 50300, 100000)
	assert.False(t, math.IsNaN(p) || p <= 0 || p > 1, "p = %g", p)
	assert.Less(t, FisherP(50000, 100000, 51000, 100000), p)
}
