package report

import (
	"fmt"
	"io"
	"strings"

	"kcplab/internal/kcpgo"
)

// CrossTalkSection renders the body of the crosstalk block of RESULTS.md: the settings, a row per
// release's result, and the first example of a datagram sent through another session's socket.
func CrossTalkSection(o kcpgo.CrossTalkOptions, all []kcpgo.CrossTalkResult) string {
	var md strings.Builder
	fmt.Fprintf(&md, "`kcplab crosstalk -seconds %d -closers %d -steady %d -burst %d`, one process per release: %d goroutines each dial, write %d bytes and Close one session after another for %d s, beside %d sessions writing all along, all to one listener.\n\n",
		int(o.Duration.Seconds()), o.Closers, o.Steady, o.BurstBytes, o.Closers, o.BurstBytes, int(o.Duration.Seconds()), o.Steady)
	t := Table{Columns: []Column{{Header: "kcp-go", Left: true}, {Header: "client sessions"}, {Header: "datagrams sent"},
		{Header: "with another session's conv"}, {Header: "per million"}}}
	for _, r := range all {
		t.Rows = append(t.Rows, Row{Cells: []string{r.KCPGo, fmt.Sprint(r.Sessions), fmt.Sprint(r.Sent), fmt.Sprint(r.Foreign),
			fmt.Sprintf("%.1f", 1e6*float64(r.Foreign)/float64(max(r.Sent, 1)))}})
	}
	t.WriteMarkdown(&md)
	for _, r := range all {
		if len(r.Examples) > 0 {
			fmt.Fprintf(&md, "\nFor example (%s): %s.\n", r.KCPGo, r.Examples[0])
			break
		}
	}
	return md.String()
}

// WriteCrossTalkText prints one version's result: its count of datagrams with another session's
// conv, and the examples.
func WriteCrossTalkText(w io.Writer, r kcpgo.CrossTalkResult) {
	fmt.Fprintf(w, "kcp-go %s: %d client sessions sent %d datagrams; %d carried another session's conv\n",
		r.KCPGo, r.Sessions, r.Sent, r.Foreign)
	if len(r.Examples) > 0 {
		fmt.Fprintf(w, "  e.g. %s\n", strings.Join(r.Examples, "\n  e.g. "))
	}
}

// WriteCrossTalkResults writes the crosstalk block of the RESULTS.md at path.
func WriteCrossTalkResults(path string, o kcpgo.CrossTalkOptions, all []kcpgo.CrossTalkResult) error {
	return UpdateFile(path, "crosstalk", CrossTalkSection(o, all), "### Datagrams sent through another session's socket")
}
