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
