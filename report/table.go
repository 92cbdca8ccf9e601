package report

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Table is a grid of text cells under a header row: the one writer of every table kcplab prints
// (the versions matrix, the pairs of releases, a class's server × client grid) or writes into
// Markdown (RESULTS.md, pairs.md).
type Table struct {
	Columns []Column
	Rows    []Row
}

// Column is one column of a Table.
type Column struct {
	Header string
	Left   bool // left-aligned; otherwise right-aligned (counts)
	// MinWidth is the least width of the column in text, in runes; a wider cell widens it.
	MinWidth int
	// Gap is the number of spaces before the column in text (after the indent for the first one).
	Gap int
}

// Row is one row of a Table.
type Row struct {
	Cells []string // one per column; a shorter row leaves the last columns out
	// Note, when set, stands in text for every cell after the first, two spaces after it (e.g.
	// "error: ..." for a run that produced no counts). Markdown shows Cells only.
	Note string
	// Below are text lines printed under the row, indented past the first column (e.g. why trials
	// failed). Markdown leaves them out.
	Below []string
}

// widths returns each column's text width: its MinWidth, header or widest cell.
func (t *Table) widths() []int {
	w := make([]int, len(t.Columns))
	for i, c := range t.Columns {
		w[i] = max(c.MinWidth, utf8.RuneCountInString(c.Header))
	}
	for _, r := range t.Rows {
		for i, cell := range r.Cells {
			if i < len(w) && (r.Note == "" || i == 0) {
				w[i] = max(w[i], utf8.RuneCountInString(cell))
			}
		}
	}
	return w
}

// pad aligns s in width runes.
func pad(s string, width int, left bool) string {
	n := width - utf8.RuneCountInString(s)
	if n <= 0 {
		return s
	}
	if left {
		return s + strings.Repeat(" ", n)
	}
	return strings.Repeat(" ", n) + s
}

// WriteText writes the table as aligned text, every line starting with indent.
func (t *Table) WriteText(w io.Writer, indent string) {
	widths := t.widths()
	line := func(cells []string) string {
		var b strings.Builder
		b.WriteString(indent)
		for i, c := range t.Columns {
			if i >= len(cells) {
				break
			}
			b.WriteString(strings.Repeat(" ", c.Gap))
			b.WriteString(pad(cells[i], widths[i], c.Left))
		}
		return strings.TrimRight(b.String(), " ") // a left-aligned last column pads nothing after it
	}
	headers := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		headers[i] = c.Header
	}
	fmt.Fprintln(w, line(headers))
	below := indent + strings.Repeat(" ", t.gap0()+widths[0]) + "   "
	for _, r := range t.Rows {
		if r.Note != "" {
			first := indent + strings.Repeat(" ", t.gap0()) + pad(r.Cells[0], widths[0], t.Columns[0].Left)
			fmt.Fprintf(w, "%s  %s\n", first, r.Note)
		} else {
			fmt.Fprintln(w, line(r.Cells))
		}
		for _, l := range r.Below {
			fmt.Fprintf(w, "%s%s\n", below, l)
		}
	}
}

func (t *Table) gap0() int {
	if len(t.Columns) == 0 {
		return 0
	}
	return t.Columns[0].Gap
}

// WriteMarkdown writes the table as a Markdown table; a "|" in a cell is escaped.
func (t *Table) WriteMarkdown(w io.Writer) {
	cells := func(cs []string) string {
		esc := make([]string, len(cs))
		for i, c := range cs {
			esc[i] = strings.ReplaceAll(c, "|", "\\|")
		}
		return "| " + strings.Join(esc, " | ") + " |\n"
	}
	headers := make([]string, len(t.Columns))
	var sep strings.Builder
	sep.WriteString("|")
	for i, c := range t.Columns {
		headers[i] = c.Header
		if c.Left {
			sep.WriteString("---|")
		} else {
			sep.WriteString("---:|")
		}
	}
	io.WriteString(w, cells(headers)+sep.String()+"\n")
	for _, r := range t.Rows {
		io.WriteString(w, cells(r.Cells))
	}
}
