package report

import (
	"fmt"
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
