package report

import (
	"strings"
	"testing"
)

// chartMatrix has what ChartOf must handle: the seed version's label, a version without a run and one
// with no trials (no bar), a class only one version showed (after the named ones), and failed trials.
func chartMatrix() *Matrix {
	return &Matrix{
		Versions: []string{"v5.4.20+incompatible", "v5.5.0", "v5.6.1", "v5.6.72", "v5.7.6"},
		Experiments: []MatrixExperiment{{
			ID: "p003", Classes: []string{"delivered", "response lost at Close"},
			Versions: map[string]*VersionCounts{
				"v5.4.20+incompatible": {Trials: 40, Classes: map[string]int{"delivered": 21, "response lost at Close": 19}},
				"v5.6.1":               {Trials: 0, Error: "build failed"},
				"v5.6.72":              {Trials: 40, Classes: map[string]int{"delivered": 22, "response lost at Close": 17, "c→s PUSH; s→c ACK": 1}},
				"v5.7.6":               {Trials: 30, Classes: map[string]int{"delivered": 10}, Failed: 20},
			},
		}, {
			ID: "p001", Classes: []string{"a", "b"},
			Versions: map[string]*VersionCounts{
				"v5.7.6": {Trials: 8, Classes: map[string]int{"a": 3, "b": 5}},
			},
		}},
	}
}

func TestChartDataGolden(t *testing.T) {
	t.Parallel()
	m := chartMatrix()
	var b strings.Builder
	for i := range m.Experiments {
		d, err := ChartOf(m, &m.Experiments[i])
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(d.String() + "\n")
	}
	golden(t, "chart", b.String())
}

// TestChartData checks the bars' parts against the matrix: each bar's shares sum to 100%, and a
// changed count moves its share.
func TestChartData(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		edit    func(e *MatrixExperiment)
		version string
		class   string
		share   float64
	}{
		{"as run", func(*MatrixExperiment) {}, "v5.7.6", FailedClass, 100 * 20.0 / 30},
		{"fewer failed", func(e *MatrixExperiment) {
			e.Versions["v5.7.6"].Failed, e.Versions["v5.7.6"].Classes["delivered"] = 5, 25
		}, "v5.7.6", "delivered", 100 * 25.0 / 30},
		{"discovered class", func(*MatrixExperiment) {}, "v5.6.72", "c→s PUSH; s→c ACK", 2.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := chartMatrix()
			e := &m.Experiments[0]
			tc.edit(e)
			d, err := ChartOf(m, e)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := strings.Join(d.Versions, " "), "v5.4.20+incompatible v5.6.72 v5.7.6"; got != want {
				t.Errorf("bars %q, want %q", got, want)
			}
			for j, v := range d.Versions {
				sum := 0.0
				for i, c := range d.Classes {
					sum += d.Share(i, j)
					if v == tc.version && c == tc.class && d.Share(i, j) != tc.share {
						t.Errorf("%s %s: %.2f%%, want %.2f%%", v, c, d.Share(i, j), tc.share)
					}
				}
				if sum < 99.999 || sum > 100.001 {
					t.Errorf("%s: the parts sum to %.3f%%", v, sum)
				}
			}
		})
	}
	if _, err := ChartOf(&Matrix{Versions: []string{"v1"}}, &MatrixExperiment{ID: "none"}); err == nil {
		t.Error("chart data without trials: no error")
	}
}
