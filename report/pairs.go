package report

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// The pairs of releases (`kcplab matrix -pairs`) are a Matrix whose "versions" are pairs, labelled
// by PairLabel; these render it as tables of pairs by classes and as grids of one class.

// PairLabel names a pair of releases, the server's first: the pairs matrix's "version".
func PairLabel(server, client string) string { return "server " + server + " × client " + client }

// WritePairsText writes, per experiment, a table of pairs by classes (columns numbered, names below)
// and the grid of its first class: what `kcplab matrix -pairs` prints. vs are the releases.
func WritePairsText(w io.Writer, mx *Matrix, vs []string) {
	width := 0
	for _, v := range mx.Versions {
		width = max(width, utf8.RuneCountInString(v))
	}
	for i := range mx.Experiments {
		e := &mx.Experiments[i]
		fmt.Fprintf(w, "\n%s: %s (pairs of releases: the server's × the client's)\n", e.ID, e.Title)
		cols := append(append([]string(nil), e.Classes...), FailedClass)
		t := countsTable(e, mx.Versions, cols, Column{Header: "pair", Left: true, MinWidth: width}, 1, 4)
		for j := range cols {
			t.Columns[2+j].Header = fmt.Sprintf("c%d", j+1)
		}
		t.WriteText(w, "  ")
		for j, c := range cols {
			fmt.Fprintf(w, "    c%d = %s\n", j+1, columnName(c))
		}
		if len(e.Classes) > 0 && len(vs) > 0 {
			fmt.Fprintf(w, "  %q by release (rows: the server's; columns: the client's):\n", e.Classes[0])
			PairGrid(e, vs, e.Classes[0], false).WriteText(w, "  ")
		}
	}
}

// PairGrid is, for one class, a grid of counts: a row per server release, a column per client
// release, each cell "k/n" ("error" for a pair that did not run, "-" for one missing). With md the
// row headers are bold, for Markdown.
func PairGrid(e *MatrixExperiment, vs []string, class string, md bool) *Table {
	t := &Table{Columns: []Column{{Header: "server \\ client", Left: true}}}
	for _, c := range vs {
		t.Columns = append(t.Columns, Column{Header: c, Gap: 1})
	}
	for _, s := range vs {
		row := []string{s}
		if md {
			row[0] = "**" + s + "**"
		}
		for _, c := range vs {
			vc := e.Versions[PairLabel(s, c)]
			switch {
			case vc == nil:
				row = append(row, "-")
			case vc.Error != "":
				row = append(row, "error")
			default:
				row = append(row, fmt.Sprintf("%d/%d", vc.Count(class), vc.Trials))
			}
		}
		t.Rows = append(t.Rows, Row{Cells: row})
	}
	return t
}

// SeenClasses returns e's named classes, then FailedClass, that at least one run had.
func SeenClasses(e *MatrixExperiment) []string {
	var out []string
	for _, class := range append(append([]string(nil), e.Classes...), FailedClass) {
		for _, vc := range e.Versions {
			if vc.Count(class) > 0 {
				out = append(out, class)
				break
			}
		}
	}
	return out
}

// PairsMarkdown writes DIR/pairs/pairs.md: per experiment, a grid per class that any pair had.
func PairsMarkdown(w io.Writer, mx *Matrix, vs []string) {
	fmt.Fprintf(w, "# kcplab matrix -pairs\n\nEach trial's server ran in the row's peer and its client in the column's, each peer a process of its own (for a kcp-go release, `kcplab peer` built against it). Cells: trials of the class / trials.\n")
	if len(mx.Peers) > 0 {
		fmt.Fprintf(w, "\nThe peers, as their hellos named them:\n\n")
		t := &Table{Columns: []Column{{Header: "peer", Left: true}, {Header: "implementation", Left: true, Gap: 1}, {Header: "version", Left: true, Gap: 1}, {Header: "command", Left: true, Gap: 1}}}
		for _, p := range mx.Peers {
			t.Rows = append(t.Rows, Row{Cells: []string{p.Label, p.Impl, p.ImplVersion, "`" + p.Command + "`"}})
		}
		t.WriteMarkdown(w)
	}
	for i := range mx.Experiments {
		e := &mx.Experiments[i]
		fmt.Fprintf(w, "\n## %s: %s\n", e.ID, e.Title)
		for _, class := range SeenClasses(e) {
			fmt.Fprintf(w, "\n### %q\n\n", class)
			if d := e.Descriptions[class]; d != "" {
				fmt.Fprintf(w, "%s\n\n", d)
			}
			PairGrid(e, vs, class, true).WriteMarkdown(w)
		}
	}
}

// PairsSection renders the body of the "pairs" block of RESULTS.md: per experiment, a grid per
// class that any pair had.
// charts, when it has one for an experiment, links that experiment's chart.
func PairsSection(mx *Matrix, vs []string, charts map[string]string) string {
	var md strings.Builder
	fmt.Fprintf(&md, "%d trials per pair, each role in a peer process of its own (`kcplab peer` built against a kcp-go release, or another implementation's peer); rows: the server's peer, columns: the client's. Cells: trials of the class / trials.\n", mx.Trials)
	for i := range mx.Experiments {
		e := &mx.Experiments[i]
		fmt.Fprintf(&md, "\n#### %s\n", e.ID)
		if c, ok := charts[e.ID]; ok {
			fmt.Fprintf(&md, "\n![%s: the share of each class, per pair](%s)\n", e.ID, c)
		}
		for _, class := range SeenClasses(e) {
			fmt.Fprintf(&md, "\n%q\n\n", class)
			PairGrid(e, vs, class, true).WriteMarkdown(&md)
		}
	}
	return md.String()
}
