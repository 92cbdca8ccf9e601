package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"kcplab/experiments"
	"kcplab/harness"
	"kcplab/peer"
	"kcplab/report"
)

// runPeer serves the peer protocol (peer/peer.go) on stdin and stdout: `kcplab matrix -pairs`
// runs one per kcp-go release and drives trials whose server and client run in different ones.
func runPeer(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("peer", stderr)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	// stdout carries the protocol: anything else the process prints goes to stderr.
	if stdout == os.Stdout {
		os.Stdout = os.Stderr
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := peer.ServePeer(ctx, os.Stdin, stdout, experiments.Lookup)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// DefaultPairIDs are the experiments `kcplab matrix -pairs` runs when none is named.
var DefaultPairIDs = []string{"p001", "p003"}

// DefaultPairTrials is the trials per experiment and pair unless -trials says otherwise.
const DefaultPairTrials = 20

// pairLabel names a pair of releases, the server's first.
func pairLabel(server, client string) string { return "server " + server + " × client " + client }

// pairDir is the directory of a pair's runs under DIR/pairs.
func pairDir(out, server, client string) string {
	return filepath.Join(out, "pairs", server+"__"+client)
}

// runPairs runs the experiments over every ordered pair (server release, client release) of vs: one
// peer process per release (`BIN peer`), the trials driven and classified here. It writes
// DIR/pairs/SERVER__CLIENT/ID/summary.json (and a pcapng per trial), DIR/pairs/pairs.json (a matrix
// whose "versions" are the pairs) and prints a table per experiment.
func (m *matrixRunner) runPairs(ctx context.Context, vs []string) (*report.Matrix, error) {
	dir := filepath.Join(m.out, "pairs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	peers := map[string]*peer.Peer{}
	defer func() {
		for v, p := range peers {
			if err := p.Close(); err != nil {
				m.printf("kcp-go %s: peer: %v\n", v, err)
			}
		}
	}()
	for _, v := range vs {
		start := time.Now()
		bin, err := m.builder.Build(ctx, v)
		if err != nil {
			return nil, fmt.Errorf("kcp-go %s: %w", v, err)
		}
		how := "built"
		if bin.Cached {
			how = "cached"
		}
		logPath := filepath.Join(dir, "peer-"+v+".log")
		log, err := os.Create(logPath)
		if err != nil {
			return nil, err
		}
		defer log.Close()
		cmd := exec.Command(bin.Path, "peer")
		cmd.Stderr = log
		p, err := peer.StartPeer(cmd)
		if err != nil {
			return nil, fmt.Errorf("kcp-go %s: %w (stderr in %s)", v, err, logPath)
		}
		peers[v] = p
		if p.Hello.KCPGo != v {
			return nil, fmt.Errorf("kcp-go %s: the peer reports kcp-go %s", v, p.Hello.KCPGo)
		}
		m.printf("kcp-go %s: kcplab %s in %.1fs, peer started (%s)\n", v, how, time.Since(start).Seconds(), bin.Path)
	}

	mx := &report.Matrix{Trials: m.trials}
	for _, s := range vs {
		for _, c := range vs {
			mx.Versions = append(mx.Versions, pairLabel(s, c))
		}
	}
	for _, id := range m.ids {
		e, err := experiments.Lookup(id)
		if err != nil {
			return nil, err
		}
		me := report.MatrixExperiment{ID: id, Title: e.Title, Descriptions: map[string]string{}, Versions: map[string]*report.VersionCounts{}}
		for _, c := range e.Classes {
			me.Classes = append(me.Classes, c.Name)
			me.Descriptions[c.Name] = c.Description
		}
		for _, s := range vs {
			for _, c := range vs {
				label := pairLabel(s, c)
				pd := pairDir(m.out, s, c)
				start := time.Now()
				res, err := peer.RunPair(ctx, e, harness.RunOptions{Trials: m.trials, Parallel: m.parallel, Discover: true, OutDir: pd}, peers[s], peers[c])
				if err != nil {
					if ctx.Err() != nil {
						return nil, ctx.Err()
					}
					m.printf("%s %s: %v\n", id, label, err)
					me.Versions[label] = &report.VersionCounts{Error: err.Error()}
					continue
				}
				path, err := res.WriteSummary(filepath.Join(pd, id))
				if err != nil {
					return nil, err
				}
				vc := readCounts(path)
				me.Versions[label] = vc
				m.printf("%s %s: %s in %.1fs\n", id, label, countsLine(vc), time.Since(start).Seconds())
				for name := range vc.Classes {
					if !contains(me.Classes, name) {
						me.Classes = append(me.Classes, name)
					}
				}
			}
		}
		mx.Experiments = append(mx.Experiments, me)
	}
	if err := report.WriteMatrix(filepath.Join(dir, "pairs.json"), mx); err != nil {
		return nil, err
	}
	var md strings.Builder
	pairsMarkdown(&md, mx, vs)
	return mx, os.WriteFile(filepath.Join(dir, "pairs.md"), []byte(md.String()), 0o644)
}

// countsLine is a run's non-zero class counts, e.g. "20 trials: delivered 17, response lost at Close 3".
func countsLine(vc *report.VersionCounts) string {
	var parts []string
	names := make([]string, 0, len(vc.Classes))
	for n, k := range vc.Classes {
		if k > 0 {
			names = append(names, n)
		}
	}
	sort.Slice(names, func(i, j int) bool { return vc.Classes[names[i]] > vc.Classes[names[j]] })
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s %d", n, vc.Classes[n]))
	}
	if vc.Failed > 0 {
		parts = append(parts, fmt.Sprintf("failed %d", vc.Failed))
	}
	return fmt.Sprintf("%d trials: %s", vc.Trials, strings.Join(parts, ", "))
}

// pairGrid is, for one class, a grid of counts: a row per server release, a column per client
// release, each cell "k/n" (Markdown when md).
func pairGrid(w io.Writer, e *report.MatrixExperiment, vs []string, class string, md bool) {
	cell := func(s, c string) string {
		vc := e.Versions[pairLabel(s, c)]
		switch {
		case vc == nil:
			return "-"
		case vc.Error != "":
			return "error"
		}
		return fmt.Sprintf("%d/%d", vc.Count(class), vc.Trials)
	}
	if md {
		fmt.Fprintf(w, "| server \\ client | %s |\n|---|%s\n", strings.Join(vs, " | "), strings.Repeat("---:|", len(vs)))
		for _, s := range vs {
			row := make([]string, len(vs))
			for j, c := range vs {
				row[j] = cell(s, c)
			}
			fmt.Fprintf(w, "| **%s** | %s |\n", s, strings.Join(row, " | "))
		}
		return
	}
	width := len("server \\ client")
	for _, v := range vs {
		width = max(width, len(v))
	}
	fmt.Fprintf(w, "  %-*s", width, "server \\ client")
	for _, c := range vs {
		fmt.Fprintf(w, " %*s", len(c), c)
	}
	fmt.Fprintln(w)
	for _, s := range vs {
		fmt.Fprintf(w, "  %-*s", width, s)
		for _, c := range vs {
			fmt.Fprintf(w, " %*s", len(c), cell(s, c))
		}
		fmt.Fprintln(w)
	}
}

// writePairsResults writes the pairs grids into the "pairs" block of a results file (RESULTS.md).
func writePairsResults(path string, mx *report.Matrix, vs []string) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	var md strings.Builder
	fmt.Fprintf(&md, "%d trials per pair, each role in a `kcplab peer` process built against its release; rows: the server's release, columns: the client's. Cells: trials of the class / trials.\n", mx.Trials)
	for i := range mx.Experiments {
		e := &mx.Experiments[i]
		fmt.Fprintf(&md, "\n#### %s\n", e.ID)
		for _, class := range seenClasses(e) {
			fmt.Fprintf(&md, "\n%q\n\n", class)
			pairGrid(&md, e, vs, class, true)
		}
	}
	doc := report.Update(old, []string{"pairs"}, map[string]string{"pairs": md.String()},
		func(string) string { return "### Client × server pairs" })
	return os.WriteFile(path, doc, 0o644)
}

// seenClasses returns e's named classes, then failed, that at least one pair had.
func seenClasses(e *report.MatrixExperiment) []string {
	var out []string
	for _, class := range append(append([]string(nil), e.Classes...), report.FailedClass) {
		for _, vc := range e.Versions {
			if vc.Count(class) > 0 {
				out = append(out, class)
				break
			}
		}
	}
	return out
}

// pairsMarkdown is DIR/pairs/pairs.md: per experiment, a grid per class that any pair had.
func pairsMarkdown(w io.Writer, mx *report.Matrix, vs []string) {
	fmt.Fprintf(w, "# kcplab matrix -pairs\n\nEach trial's server ran on the row's kcp-go release and its client on the column's, in two `kcplab peer` processes. Cells: trials of the class / trials.\n")
	for i := range mx.Experiments {
		e := &mx.Experiments[i]
		fmt.Fprintf(w, "\n## %s: %s\n", e.ID, e.Title)
		for _, class := range seenClasses(e) {
			fmt.Fprintf(w, "\n### %q\n\n", class)
			if d := e.Descriptions[class]; d != "" {
				fmt.Fprintf(w, "%s\n\n", d)
			}
			pairGrid(w, e, vs, class, true)
		}
	}
}

// printPairs prints, per experiment, a table of pairs by classes (columns numbered, names below).
func printPairs(w io.Writer, mx *report.Matrix, vs []string) {
	for i := range mx.Experiments {
		e := &mx.Experiments[i]
		fmt.Fprintf(w, "\n%s: %s (pairs of releases: the server's × the client's)\n", e.ID, e.Title)
		cols := append(append([]string(nil), e.Classes...), "failed")
		width := 0
		for _, v := range mx.Versions {
			width = max(width, len([]rune(v)))
		}
		fmt.Fprintf(w, "  %-*s %6s", width, "pair", "trials")
		for j := range cols {
			fmt.Fprintf(w, " %4s", fmt.Sprintf("c%d", j+1))
		}
		fmt.Fprintln(w)
		for _, v := range mx.Versions {
			vc := e.Versions[v]
			pad := width - len([]rune(v))
			if vc == nil {
				continue
			}
			if vc.Error != "" {
				fmt.Fprintf(w, "  %s%*s  error: %s\n", v, pad, "", firstLine(vc.Error))
				continue
			}
			fmt.Fprintf(w, "  %s%*s %6d", v, pad, "", vc.Trials)
			for _, c := range cols {
				k := vc.Classes[c]
				if c == "failed" {
					k = vc.Failed
				}
				fmt.Fprintf(w, " %4d", k)
			}
			fmt.Fprintln(w)
		}
		for j, c := range cols {
			fmt.Fprintf(w, "    c%d = %s\n", j+1, c)
		}
		if len(e.Classes) > 0 && len(vs) > 0 {
			fmt.Fprintf(w, "  %q by release (rows: the server's; columns: the client's):\n", e.Classes[0])
			pairGrid(w, e, vs, e.Classes[0], false)
		}
	}
}
