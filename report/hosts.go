package report

import (
	"fmt"
	"strings"
	"time"

	"kcplab/harness"
)

// HostsBlock is the RESULTS.md block the comparison of placements goes into (kcplab hosts -results).
const HostsBlock = "hosts"

// WriteHostsResults writes section (HostsSection) as the hosts block of the RESULTS.md at path.
func WriteHostsResults(path, section string) error {
	return UpdateFile(path, HostsBlock, section, "## Peers on two hosts: veth and loopback")
}

// HostsSection renders the comparison of pair runs in several placements (kcplab hosts): m's
// "versions" are the placements (loopback, veth), peers each run's server and client peer by
// placement and experiment. Per experiment: a table of placements by classes (count and share), the
// peers' clocks, and one sentence per class whose share differs beyond the 95% intervals. command is
// the command line that made the runs.
func HostsSection(m *Matrix, peers map[string]map[string][2]*harness.PeerIdent, command string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "`%s`: each experiment with its server and its client in two `kcplab peer` processes, placed as each row says: "+
		"**loopback**, both on this host's 127.0.0.1; **veth**, each in a network namespace of its own, joined by a veth pair "+
		"(198.18.1.1 and 198.18.1.2, no route out) and started with `ip netns exec`, so that every datagram crosses the kernel's IP path "+
		"between two network stacks. Each peer records its own socket's datagrams; the coordinator measures each peer's clock "+
		"(the shortest of its clock round trips: offset ± half that round trip) and subtracts the offset from the peer's times "+
		"when 0 is outside that interval. Each cell is trials in the class and their share; a difference is named when the two "+
		"95%% (Wilson) intervals do not overlap.\n", command)
	for i := range m.Experiments {
		e := &m.Experiments[i]
		fmt.Fprintf(&b, "\n#### %s: %s\n\n", e.ID, e.Title)
		ps := m.ran(e)
		t := sharesTable(e, ps, "peers", func(p string, _ *VersionCounts) string { return p })
		t.WriteMarkdown(&b)

		b.WriteString("\n")
		clocks := Table{Columns: []Column{{Header: "peers", Left: true}, {Header: "server's peer", Left: true}, {Header: "client's peer", Left: true}}}
		for _, p := range ps {
			pp, ok := peers[p][e.ID]
			if !ok {
				continue
			}
			clocks.Rows = append(clocks.Rows, Row{Cells: []string{p, peerPlace(pp[0]), peerPlace(pp[1])}})
		}
		clocks.WriteMarkdown(&b)

		m.writeDifferences(&b, e, strings.Join(ps, " and "))
	}
	return b.String()
}

// peerPlace says where a peer ran and its clock: "198.18.1.1 in its namespace; clock +0.004 ± 0.019
// ms, not corrected".
func peerPlace(id *harness.PeerIdent) string {
	if id == nil {
		return "–"
	}
	where := "127.0.0.1"
	if id.Bind != "" {
		where = id.Bind
	}
	if id.Host != "" {
		where += " in a namespace of its own"
	}
	if id.Clock == nil {
		return where + "; clock not measured"
	}
	ms := func(ns int64) float64 { return float64(ns) / float64(time.Millisecond) }
	corr := "not corrected (0 within)"
	if id.Clock.CorrectionNs != 0 {
		corr = fmt.Sprintf("corrected by %+.3f ms", ms(id.Clock.CorrectionNs))
	}
	return fmt.Sprintf("%s; clock %+.3f ± %.3f ms, %s", where, ms(id.Clock.OffsetNs), ms(id.Clock.UncertaintyNs), corr)
}
