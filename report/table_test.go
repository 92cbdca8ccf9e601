package report

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestTable: columns take the width of their widest cell (in runes) or their MinWidth, numbers align
// right, a note stands in for the cells after the first, lines below a row start past the first
// column, and Markdown escapes "|".
func TestTable(t *testing.T) {
	t.Parallel()
	table := Table{
		Columns: []Column{{Header: "pair", Left: true}, {Header: "n", Gap: 1, MinWidth: 3}, {Header: "class a|b", Gap: 2}},
		Rows: []Row{
			{Cells: []string{"s × c", "20", "7"}, Below: []string{"2× why"}},
			{Cells: []string{"longer", "1000", "12345678901"}},
			{Cells: []string{"x"}, Note: "error: boom"},
		},
	}
	tests := []struct {
		name string
		got  func() string
		want string
	}{
		{"text", func() string {
			var b strings.Builder
			table.WriteText(&b, "  ")
			return b.String()
		}, "" +
			"  pair      n    class a|b\n" +
			"  s × c    20            7\n" +
			"           2× why\n" +
			"  longer 1000  12345678901\n" +
			"  x       error: boom\n"},
		{"markdown", func() string {
			var b strings.Builder
			table.WriteMarkdown(&b)
			return b.String()
		}, "" +
			"| pair | n | class a\\|b |\n" +
			"|---|---:|---:|\n" +
			"| s × c | 20 | 7 |\n" +
			"| longer | 1000 | 12345678901 |\n" +
			"| x |\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, tc.got())
		})
	}
}

// goldenMatrix is a versions matrix with every kind of row: counts, failures of several kinds under a
// row, a release whose run produced no counts, a release missing for one experiment, and a class no
// release had.
func goldenMatrix() *Matrix {
	return &Matrix{
		Versions: []string{"v5.4.20+incompatible", "v5.6.1", "v5.6.24", "v5.6.72", "v5.7.6"},
		Trials:   40,
		Experiments: []MatrixExperiment{{
			ID: "p003", Title: "the server's Close is not signalled to the client",
			Classes:      []string{"delivered", "response lost at Close", "never seen"},
			Descriptions: map[string]string{"delivered": "the post's four datagrams."},
			Versions: map[string]*VersionCounts{
				"v5.4.20+incompatible": {KCPGo: "v5.4.20+incompatible", Trials: 40, Classes: map[string]int{"delivered": 21, "response lost at Close": 19}},
				"v5.6.1": {KCPGo: "v5.6.1", Trials: 40, Classes: map[string]int{"delivered": 20, "response lost at Close": 17}, Failed: 3,
					Failures: map[string]int{"client role still running after 10s": 1, `invariant "one session" broken`: 1, "crossed by another trial's datagram in every attempt": 1}},
				"v5.6.24": {Error: "building kcplab against kcp-go v5.6.24: exit status 1\n# details"},
				"v5.6.72": {KCPGo: "v5.6.72", Trials: 40, Classes: map[string]int{"delivered": 22, "response lost at Close": 18}},
				"v5.7.6": {KCPGo: "v5.7.6", Trials: 40, Classes: map[string]int{"delivered": 0, "unnamed: c→s PUSH0 | s→c ACK0": 30}, Failed: 10,
					Failures: map[string]int{`fits no class: not "delivered" at step 3, not "response lost at Close" at step 2`: 10}},
			},
		}, {
			ID: "p001", Title: "quiet", Classes: []string{"a", "bb"},
			Versions: map[string]*VersionCounts{
				"v5.6.1": {KCPGo: "v5.6.1", Trials: 10, Classes: map[string]int{"a": 5, "bb": 5}},
				"v5.7.6": {KCPGo: "v5.7.6", Trials: 10, Classes: map[string]int{"a": 6, "bb": 4}},
			},
		}},
	}
}

// goldenPairs is a pairs matrix over three releases: a pair missing, a pair whose run failed, a
// discovered class and failed trials in one pair, and an experiment every pair agrees on.
func goldenPairs() (*Matrix, []string) {
	vs := []string{"v5.4.20+incompatible", "v5.6.1", "v5.7.6"}
	mx := &Matrix{Trials: 20}
	for _, s := range vs {
		for _, c := range vs {
			mx.Versions = append(mx.Versions, PairLabel(s, c))
		}
	}
	e := MatrixExperiment{ID: "p003", Title: "the server's Close is not signalled to the client",
		Classes:      []string{"delivered", "lost", "unnamed: c→s PUSH0"},
		Descriptions: map[string]string{"delivered": "all of it.", "lost": "none | of it."}, Versions: map[string]*VersionCounts{}}
	for i, s := range vs {
		for j, c := range vs {
			switch {
			case i == 1 && j == 2:
				continue
			case i == 2 && j == 0:
				e.Versions[PairLabel(s, c)] = &VersionCounts{Error: "peer: no \"done\" from the peer\nmore"}
				continue
			case i == 2 && j == 2:
				e.Versions[PairLabel(s, c)] = &VersionCounts{Trials: 20, Failed: 2, Classes: map[string]int{"delivered": 10, "lost": 5, "unnamed: c→s PUSH0": 3}}
				continue
			}
			k := 20 - 3*i - j
			e.Versions[PairLabel(s, c)] = &VersionCounts{Trials: 20, Classes: map[string]int{"delivered": k, "lost": 20 - k}}
		}
	}
	echo := MatrixExperiment{ID: "p001", Title: "echo", Classes: []string{"echoed"}, Versions: map[string]*VersionCounts{}}
	for _, s := range vs {
		for _, c := range vs {
			echo.Versions[PairLabel(s, c)] = &VersionCounts{Trials: 20, Classes: map[string]int{"echoed": 20}}
		}
	}
	mx.Experiments = []MatrixExperiment{e, echo}
	for _, v := range vs {
		mx.Peers = append(mx.Peers, MatrixPeer{Label: v, Impl: "kcp-go", ImplVersion: v, KCPGo: v, Command: "/cache/" + v + "/kcplab peer"})
	}
	return mx, vs
}

// TestGolden renders the tables `kcplab matrix` and `kcplab matrix -pairs` print and write, and
// compares each with its golden file.
func TestTablesGolden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		render func(b *strings.Builder)
	}{
		{"matrix", func(b *strings.Builder) { WriteMatrixText(b, goldenMatrix()) }},
		{"matrix-section", func(b *strings.Builder) {
			b.WriteString(MatrixSection(goldenMatrix(), map[string]string{"p003": "charts/matrix-p003.png"}))
		}},
		{"pairs", func(b *strings.Builder) { mx, vs := goldenPairs(); WritePairsText(b, mx, vs) }},
		{"pairs-md", func(b *strings.Builder) { mx, vs := goldenPairs(); PairsMarkdown(b, mx, vs) }},
		{"pairs-section", func(b *strings.Builder) { mx, vs := goldenPairs(); b.WriteString(PairsSection(mx, vs, nil)) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var b strings.Builder
			tc.render(&b)
			golden(t, tc.name, b.String())
		})
	}
}
