package report

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"kcplab/harness"
)

// HostsBlock is the RESULTS.md block the comparison of placements goes into (kcplab hosts -results).
const HostsBlock = "hosts"

// HostsAlpha is the chance, over every class the comparison of placements tests, of naming a
// difference where there is none (Bonferroni, as kcplab compare's -alpha).
const HostsAlpha = 0.05

// WriteHostsResults writes section (HostsSection) as the hosts block of the RESULTS.md at path.
func WriteHostsResults(path, section string) error {
	return UpdateFile(path, HostsBlock, section, "## Peers on two hosts: veth and loopback")
}

// HostRuns are the runs of pair experiments in several placements (kcplab hosts), read back from
// their summaries.
type HostRuns struct {
	// Pooled holds, per experiment and placement ("versions": the placements), the counts of the
	// placement's runs added up; a run that could not be read is its cell's error.
	Pooled *Matrix
	// Runs are each placement's runs, each a matrix of that placement alone (Compare's sides).
	Runs map[string][]*Matrix
	// Peers are each run's server and client peers as its summary names them (hosts, bind addresses,
	// clocks), by placement and experiment, in the runs' order.
	Peers map[string]map[string][][2]*harness.PeerIdent
}

// Unread is the first run whose summary could not be read, as an error (nil when all were).
func (h *HostRuns) Unread() error {
	for _, e := range h.Pooled.Experiments {
		for _, p := range h.Pooled.Versions {
			if vc := e.Versions[p]; vc != nil && vc.Error != "" {
				return errors.New(vc.Error)
			}
		}
	}
	return nil
}

// HostsSection renders h (kcplab hosts), command being the command line that made the runs. Per
// experiment: a table of placements by classes (count and share over the runs), each class's count
// run by run, the peers' places and clocks, and, when two placements ran, one sentence per class whose
// share differs by the test over runs of Compare (Fisher's exact test when each placement ran once).
func HostsSection(h *HostRuns, command string) string {
	var b strings.Builder
	m := h.Pooled
	fmt.Fprintf(&b, "`%s`: each experiment with its server and its client in two `kcplab peer` processes, placed as each row says: "+
		"**loopback**, both on this host's 127.0.0.1; **veth**, each in a network namespace of its own, joined by a veth pair "+
		"(198.18.1.1 and 198.18.1.2, no route out) and started with `ip netns exec`, so that every datagram crosses the kernel's IP path "+
		"between two network stacks. Each peer records its own socket's datagrams; the coordinator measures each peer's clock "+
		"(the shortest of its clock round trips: offset ± half that round trip) and subtracts the offset from the peer's times "+
		"when 0 is outside that interval. Each placement runs several times, each run with peer processes (and namespaces) of its own, "+
		"the placements taking turns (one order, then the other): the share of a class a race decides moves from run to run more "+
		"than one run's trials say (RESULTS.md, p003), so placements are compared over their runs. Each cell is trials in the class "+
		"over the runs and their share; a class differs when its p (%s) is below %g over the classes tested.\n",
		command, hostsTest(h), HostsAlpha)
	cmp := h.compare()
	for i := range m.Experiments {
		e := &m.Experiments[i]
		fmt.Fprintf(&b, "\n#### %s: %s\n\n", e.ID, e.Title)
		ps := m.ran(e)
		t := sharesTable(e, ps, "peers", func(p string, _ *VersionCounts) string {
			n := len(h.runsOf(p, e.ID))
			return fmt.Sprintf("%s (%d run%s)", p, n, plural(n))
		})
		t.WriteMarkdown(&b)

		b.WriteString("\n")
		h.byRunTable(e, ps).WriteMarkdown(&b)

		b.WriteString("\n")
		clocks := Table{Columns: []Column{{Header: "peers", Left: true}, {Header: "server's peer", Left: true}, {Header: "client's peer", Left: true}}}
		for _, p := range ps {
			runs := h.Peers[p][e.ID]
			if len(runs) == 0 {
				continue
			}
			var srv, cli []*harness.PeerIdent
			for _, pp := range runs {
				srv, cli = append(srv, pp[0]), append(cli, pp[1])
			}
			clocks.Rows = append(clocks.Rows, Row{Cells: []string{p, peerPlaces(srv), peerPlaces(cli)}})
		}
		clocks.WriteMarkdown(&b)
		writeHostDifferences(&b, e, ps, cmp)
	}
	return b.String()
}

// compare tests the two placements' runs (nil unless exactly two placements ran).
func (h *HostRuns) compare() *Comparison {
	if len(h.Pooled.Versions) != 2 {
		return nil
	}
	a, b := h.Pooled.Versions[0], h.Pooled.Versions[1]
	if len(h.Runs[a]) == 0 || len(h.Runs[b]) == 0 {
		return nil
	}
	cmp, err := Compare(Side{Name: a, Runs: h.Runs[a]}, Side{Name: b, Runs: h.Runs[b]}, HostsAlpha)
	if err != nil {
		return nil // no experiment both ran: every cell says so on its own
	}
	return cmp
}

// hostsTest names the test the comparison makes.
func hostsTest(h *HostRuns) string {
	for _, runs := range h.Runs {
		if len(runs) > 1 {
			return "the test over runs of `kcplab compare`: the pooled shares' z with its variance times the spread between runs, against Student's t"
		}
	}
	return "Fisher's exact test, each placement having run once"
}

// runsOf is placement p's runs that produced counts for experiment id.
func (h *HostRuns) runsOf(p, id string) []*VersionCounts {
	var out []*VersionCounts
	for _, m := range h.Runs[p] {
		for _, me := range m.Experiments {
			if vc := me.Versions[p]; me.ID == id && ran(vc) {
				out = append(out, vc)
			}
		}
	}
	return out
}

// byRunTable is e's classes by placement, each cell the class's trials in each run of the placement.
func (h *HostRuns) byRunTable(e *MatrixExperiment, ps []string) *Table {
	cols := e.columns(ps)
	t := &Table{Columns: []Column{{Header: "run by run", Left: true}, {Header: "trials"}}}
	for _, c := range cols {
		t.Columns = append(t.Columns, Column{Header: columnName(c)})
	}
	for _, p := range ps {
		runs := h.runsOf(p, e.ID)
		if len(runs) == 0 {
			continue
		}
		row := Row{Cells: []string{p, runCounts(runs, " · ", func(vc *VersionCounts) int { return vc.Trials })}}
		for _, c := range cols {
			row.Cells = append(row.Cells, runCounts(runs, " · ", inClass(c)))
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// writeHostDifferences writes a line per class of e that differs between the placements ps in cmp,
// or a line saying none does.
func writeHostDifferences(b *strings.Builder, e *MatrixExperiment, ps []string, cmp *Comparison) {
	if cmp == nil {
		return
	}
	var cell *ComparedCell
	for i := range cmp.Cells {
		if cmp.Cells[i].ID == e.ID {
			cell = &cmp.Cells[i]
		}
	}
	if cell == nil {
		return
	}
	var lines []string
	for _, cc := range cell.Classes {
		if !cmp.Differs(cc) {
			continue
		}
		line := fmt.Sprintf("%s: %s (%d/%d) with %s and %s (%d/%d) with %s; p = %s", e.classPhrase(cc.Class),
			sharePct(cc.KA, cell.A.Trials), cc.KA, cell.A.Trials, cmp.A, sharePct(cc.KB, cell.B.Trials), cc.KB, cell.B.Trials, cmp.B, formatP(cc.P))
		if cc.Dispersion > 0 {
			line += fmt.Sprintf(", the runs spread ×%.1f a binomial draw's variance", cc.Dispersion)
		}
		lines = append(lines, line+".")
	}
	if len(lines) == 0 {
		fmt.Fprintf(b, "\nNo class's share differs between %s at p < %.2g (%g over the %d classes tested in all the experiments).\n",
			strings.Join(ps, " and "), cmp.Threshold(), cmp.Alpha, cmp.Tests())
		return
	}
	fmt.Fprintf(b, "\nDiffering at p < %.2g (%g over the %d classes tested in all the experiments):\n\n", cmp.Threshold(), cmp.Alpha, cmp.Tests())
	for _, l := range lines {
		fmt.Fprintf(b, "- %s\n", l)
	}
}

// peerPlaces says where a peer ran, over its runs, and its clocks: "198.18.1.1 in a namespace of its
// own; clock +0.002 to +0.010 ms (± at most 0.037 ms), not corrected in 4 runs".
func peerPlaces(ids []*harness.PeerIdent) string {
	var first *harness.PeerIdent
	for _, id := range ids {
		if id != nil {
			first = id
			break
		}
	}
	if first == nil {
		return "–"
	}
	where := "127.0.0.1"
	if first.Bind != "" {
		where = first.Bind
	}
	if first.Host != "" {
		where += " in a namespace of its own"
	}
	ms := func(ns int64) float64 { return float64(ns) / float64(time.Millisecond) }
	lo, hi, unc := math.Inf(1), math.Inf(-1), 0.0
	measured, corrected, correction := 0, 0, 0.0
	for _, id := range ids {
		if id == nil || id.Clock == nil {
			continue
		}
		measured++
		off := ms(id.Clock.OffsetNs)
		lo, hi, unc = min(lo, off), max(hi, off), max(unc, ms(id.Clock.UncertaintyNs))
		if id.Clock.CorrectionNs != 0 {
			corrected, correction = corrected+1, ms(id.Clock.CorrectionNs)
		}
	}
	if measured == 0 {
		return where + "; clock not measured"
	}
	clock := fmt.Sprintf("clock %+.3f ± %.3f ms", lo, unc)
	if measured > 1 {
		clock = fmt.Sprintf("clock %+.3f to %+.3f ms (± at most %.3f ms)", lo, hi, unc)
	}
	corr := fmt.Sprintf("corrected in %d of %d runs", corrected, measured)
	switch {
	case corrected == 0 && measured == 1:
		corr = "not corrected (0 within)"
	case corrected == 0:
		corr = fmt.Sprintf("not corrected (0 within) in %d runs", measured)
	case measured == 1:
		corr = fmt.Sprintf("corrected by %+.3f ms", correction)
	}
	return fmt.Sprintf("%s; %s, %s", where, clock, corr)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
