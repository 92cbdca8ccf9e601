package report

import (
	"bytes"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func synthetic() *Matrix {
	return &Matrix{
		Versions: []string{"v5.4.20+incompatible", "v5.6.1", "v5.6.72", "v5.7.6"},
		Trials:   40,
		Experiments: []MatrixExperiment{{
			ID: "p003", Title: "the server's Close is not signalled to the client",
			Classes:      []string{"delivered", "response lost at Close"},
			Descriptions: map[string]string{"delivered": "the post's four datagrams."},
			Versions: map[string]*VersionCounts{
				"v5.4.20+incompatible": {KCPGo: "v5.4.20+incompatible", Trials: 40, Classes: map[string]int{"delivered": 21, "response lost at Close": 19}},
				"v5.6.1":               {KCPGo: "v5.6.1", Trials: 40, Classes: map[string]int{"delivered": 20, "response lost at Close": 20}},
				"v5.6.72":              {KCPGo: "v5.6.72", Trials: 40, Classes: map[string]int{"delivered": 22, "response lost at Close": 18}},
				"v5.7.6":               {KCPGo: "v5.7.6", Trials: 40, Classes: map[string]int{"delivered": 0}, Failed: 40},
			},
		}, {
			ID: "p001", Title: "quiet", Classes: []string{"a", "b"},
			Versions: map[string]*VersionCounts{
				"v5.6.1": {KCPGo: "v5.6.1", Trials: 10, Classes: map[string]int{"a": 5, "b": 5}},
				"v5.7.6": {KCPGo: "v5.7.6", Trials: 10, Classes: map[string]int{"a": 6, "b": 4}},
			},
		}},
	}
}

func TestWilson(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		k, n   int
		lo, hi float64
	}{
		{0, 10, 0, 0.2775}, {10, 10, 0.7225, 1}, {5, 10, 0.2366, 0.7634}, {21, 40, 0.3750, 0.6706}, {0, 0, 0, 1},
	} {
		lo, hi := Wilson(tc.k, tc.n)
		if d := lo - tc.lo; d > 0.001 || d < -0.001 {
			t.Errorf("Wilson(%d, %d) lo = %.4f, want %.4f", tc.k, tc.n, lo, tc.lo)
		}
		if d := hi - tc.hi; d > 0.001 || d < -0.001 {
			t.Errorf("Wilson(%d, %d) hi = %.4f, want %.4f", tc.k, tc.n, hi, tc.hi)
		}
	}
	if !Differ(0, 40, 21, 40) || Differ(20, 40, 22, 40) || Differ(0, 0, 5, 5) {
		t.Error("Differ")
	}
}

func TestDifferences(t *testing.T) {
	t.Parallel()
	m := synthetic()
	d := m.Differences(&m.Experiments[0])
	var got []string
	for _, x := range d {
		got = append(got, x.Class+" "+x.A+">"+x.B)
	}
	want := []string{"delivered v5.6.72>v5.7.6", "response lost at Close v5.6.72>v5.7.6", FailedClass + " v5.6.72>v5.7.6"}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("differences:\n got %q\nwant %q", got, want)
	}
	if d := m.Differences(&m.Experiments[1]); len(d) != 0 {
		t.Errorf("p001: %v", d)
	}
	// A drift over several releases with no adjacent step beyond the intervals: first vs last.
	e := &MatrixExperiment{ID: "x", Classes: []string{"a"}, Versions: map[string]*VersionCounts{}}
	vs := []string{"v1", "v2", "v3", "v4", "v5"}
	for i, v := range vs {
		e.Versions[v] = &VersionCounts{Trials: 20, Classes: map[string]int{"a": 4 * i}}
	}
	d = (&Matrix{Versions: vs}).Differences(e)
	if len(d) != 1 || d[0].A != "v1" || d[0].B != "v5" {
		t.Errorf("drift: %+v", d)
	}
}

func TestMatrixSection(t *testing.T) {
	t.Parallel()
	m := synthetic()
	s := MatrixSection(m, map[string]string{"p003": "results/matrix-p003.png"})
	for _, want := range []string{
		"### p003: the server's Close is not signalled to the client",
		"| kcp-go | trials | delivered | response lost at Close | " + FailedClass + " |",
		"| `v5.4.20+incompatible` | 40 | 21 (52%) | 19 (48%) | 0 (0%) |",
		"| `v5.7.6` | 40 | 0 (0%) | 0 (0%) | 40 (100%) |",
		"![p003: class shares by kcp-go version](results/matrix-p003.png)",
		`- "delivered" (the post's four datagrams): 55% (22/40) with v5.6.72 and 0% (0/40) with v5.7.6 (95% intervals 40–69% and 0–9%).`,
		"- A trial that fits no class: 0% (0/40) with v5.6.72 and 100% (40/40) with v5.7.6",
		"### p001: quiet",
		"No class's share differs between versions beyond the 95% intervals.",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %q in\n%s", want, s)
		}
	}
	if strings.Contains(s, "v5.6.1 | – |") {
		t.Error("a version without a run got a row")
	}
}

func TestMatrixRoundTrip(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "matrix.json")
	if err := WriteMatrix(path, synthetic()); err != nil {
		t.Fatal(err)
	}
	m, err := ReadMatrix(path)
	if err != nil {
		t.Fatal(err)
	}
	if m.Experiments[0].Versions["v5.7.6"].Failed != 40 || m.Versions[0] != "v5.4.20+incompatible" {
		t.Errorf("round trip: %+v", m)
	}
}

func TestCharts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	charts, err := Charts(synthetic(), filepath.Join(dir, "results"), dir, "matrix")
	if err != nil {
		t.Fatal(err)
	}
	if charts["p003"] != "results/matrix-p003.png" || charts["p001"] != "results/matrix-p001.png" {
		t.Errorf("charts: %v", charts)
	}
	b, err := os.ReadFile(filepath.Join(dir, charts["p003"]))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if r := img.Bounds(); r.Dx() < 300 || r.Dy() < 200 {
		t.Errorf("chart is %v", r)
	}
	if err := Chart(&Matrix{Versions: []string{"v1"}}, &MatrixExperiment{ID: "none"}, filepath.Join(dir, "x.png")); err == nil {
		t.Error("a chart without data")
	}
}

// TestWriteMatrixResults writes the matrix section and its charts beside a results file with prose,
// twice: the second run replaces the block.
func TestWriteMatrixResults(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	md := filepath.Join(dir, "RESULTS.md")
	if err := os.WriteFile(md, []byte("# results\n\nprose\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mx := &Matrix{Versions: []string{"v5.6.1", "v5.7.6"}, Experiments: []MatrixExperiment{{
		ID: "p003", Title: "t", Classes: []string{"delivered"},
		Versions: map[string]*VersionCounts{
			"v5.6.1": {KCPGo: "v5.6.1", Trials: 20, Classes: map[string]int{"delivered": 20}},
			"v5.7.6": {KCPGo: "v5.7.6", Trials: 20, Classes: map[string]int{"delivered": 0}, Failed: 20},
		}}}}
	for range 2 {
		if err := WriteMatrixResults(md, mx); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if !strings.HasPrefix(s, "# results\n\nprose\n") {
		t.Errorf("the prose is gone:\n%s", s)
	}
	if n := strings.Count(s, "## kcp-go versions"); n != 1 {
		t.Errorf("%d matrix sections", n)
	}
	if !strings.Contains(s, "![p003: class shares by kcp-go version](charts/matrix-p003.png)") {
		t.Errorf("no chart link:\n%s", s)
	}
	if _, err := os.Stat(filepath.Join(dir, "charts", "matrix-p003.png")); err != nil {
		t.Error(err)
	}
}

// TestVersionCountsAdd: counts, failures and stalled trials add up; the mean in flight is weighted by
// trials.
func TestVersionCountsAdd(t *testing.T) {
	t.Parallel()
	v := &VersionCounts{}
	v.Add(&VersionCounts{Trials: 100, Classes: map[string]int{"a": 60, "b": 40}, InFlightMean: 20, Stalled: 10, GoMaxProcs: 2, CPUs: 2})
	v.Add(&VersionCounts{Trials: 300, Classes: map[string]int{"a": 100, "c": 190}, Failed: 10,
		Failures: map[string]int{"no class": 10}, InFlightMean: 40, Stalled: 290, GoMaxProcs: 2, CPUs: 2})
	assert.Equal(t, &VersionCounts{Trials: 400, Classes: map[string]int{"a": 160, "b": 40, "c": 190}, Failed: 10,
		Failures: map[string]int{"no class": 10}, InFlightMean: 35, Stalled: 300, GoMaxProcs: 2, CPUs: 2}, v)

	v.Add(&VersionCounts{Trials: 100, GoMaxProcs: 4, CPUs: 4})
	assert.Zero(t, v.GoMaxProcs, "runs on other processors")
	assert.Zero(t, v.CPUs)
}

// TestKeeping: a results run of some experiments keeps the counts of the others from the committed
// run, in its order, and adds those it did not have; runs of other versions do not mix.
func TestKeeping(t *testing.T) {
	t.Parallel()
	exp := func(id string, trials int) MatrixExperiment {
		return MatrixExperiment{ID: id, Versions: map[string]*VersionCounts{"v5.7.6": {Trials: trials}}}
	}
	ids := func(m *Matrix) (out []string) {
		for _, e := range m.Experiments {
			out = append(out, fmt.Sprintf("%s:%d", e.ID, e.Versions["v5.7.6"].Trials))
		}
		return out
	}
	kept := &Matrix{Versions: []string{"v5.7.6"}, Experiments: []MatrixExperiment{exp("p001", 200), exp("p003", 200), exp("p004", 200)}}
	run := &Matrix{Versions: []string{"v5.7.6"}, Experiments: []MatrixExperiment{exp("p003", 2), exp("p009", 2)}}
	assert.Equal(t, []string{"p001:200", "p003:2", "p004:200", "p009:2"}, ids(run.Keeping(kept)))
	assert.Equal(t, []string{"p003:200"}, ids((&Matrix{Versions: []string{"v5.7.6"}, Experiments: []MatrixExperiment{exp("p003", 200)}}).Keeping(nil)))
	other := &Matrix{Versions: []string{"v5.6.1"}, Experiments: kept.Experiments}
	assert.Same(t, run, run.Keeping(other), "another version's counts are not kept")
	assert.Len(t, kept.Experiments, 3, "kept is not changed")
}
