package matrix

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"kcplab/harness"
	"kcplab/peer"
	"kcplab/report"
	"kcplab/versions"
)

// pairDir is the directory of a pair's runs under DIR/pairs.
func pairDir(out, server, client string) string {
	return filepath.Join(out, "pairs", server+"__"+client)
}

// startPeer starts `BIN peer`.
func startPeer(bin *versions.Binary, stderr io.Writer) (*peer.Peer, error) {
	cmd := exec.Command(bin.Path, "peer")
	cmd.Stderr = stderr
	return peer.StartPeer(cmd)
}

// Pairs runs the experiments over every ordered pair (server release, client release) of vs: one
// peer process per release, the trials driven and classified here, with Discover. It writes
// DIR/pairs/SERVER__CLIENT/ID/summary.json (and a pcapng per trial), DIR/pairs/pairs.json (a matrix
// whose "versions" are the pairs, report.PairLabel) and DIR/pairs/pairs.md. A pair whose run fails
// is recorded with its error.
func (r *Runner) Pairs(ctx context.Context, vs []string) (*report.Matrix, error) {
	dir := filepath.Join(r.Out, "pairs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	start := r.StartPeer
	if start == nil {
		start = startPeer
	}
	peers := map[string]*peer.Peer{}
	defer func() {
		for v, p := range peers {
			if err := p.Close(); err != nil {
				r.logf("kcp-go %s: peer: %v\n", v, err)
			}
		}
	}()
	for _, v := range vs {
		t0 := time.Now()
		bin, err := r.Builder.Build(ctx, v)
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
		p, err := start(bin, log)
		if err != nil {
			return nil, fmt.Errorf("kcp-go %s: %w (stderr in %s)", v, err, logPath)
		}
		peers[v] = p
		if p.Hello.KCPGo != v {
			return nil, fmt.Errorf("kcp-go %s: the peer reports kcp-go %s", v, p.Hello.KCPGo)
		}
		r.logf("kcp-go %s: kcplab %s in %.1fs, peer started (%s)\n", v, how, time.Since(t0).Seconds(), bin.Path)
	}

	mx := &report.Matrix{Trials: r.Trials}
	for _, s := range vs {
		for _, c := range vs {
			mx.Versions = append(mx.Versions, report.PairLabel(s, c))
		}
	}
	for _, e := range r.Experiments {
		me := newExperiment(e)
		for _, s := range vs {
			for _, c := range vs {
				label := report.PairLabel(s, c)
				pd := pairDir(r.Out, s, c)
				t0 := time.Now()
				res, err := peer.RunPair(ctx, e, harness.RunOptions{Trials: r.Trials, Parallel: r.Parallel, Discover: true, OutDir: pd}, peers[s], peers[c])
				if err != nil {
					if ctx.Err() != nil {
						return nil, ctx.Err()
					}
					r.logf("%s %s: %v\n", e.ID, label, err)
					me.Versions[label] = &report.VersionCounts{Error: err.Error()}
					continue
				}
				path, err := res.WriteSummary(filepath.Join(pd, e.ID))
				if err != nil {
					return nil, err
				}
				vc := readCounts(path)
				me.Versions[label] = vc
				r.logf("%s %s: %s in %.1fs\n", e.ID, label, countsLine(vc), time.Since(t0).Seconds())
				for name := range vc.Classes {
					if !slices.Contains(me.Classes, name) {
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
	report.PairsMarkdown(&md, mx, vs)
	return mx, os.WriteFile(filepath.Join(dir, "pairs.md"), []byte(md.String()), 0o644)
}

// PairsPath is where Pairs writes pairs.json.
func (r *Runner) PairsPath() string { return filepath.Join(r.Out, "pairs", "pairs.json") }

// countsLine is a run's non-zero class counts, e.g. "20 trials: delivered 17, response lost at Close 3".
func countsLine(vc *report.VersionCounts) string {
	var parts []string
	names := make([]string, 0, len(vc.Classes))
	for n, k := range vc.Classes {
		if k > 0 {
			names = append(names, n)
		}
	}
	sort.Slice(names, func(i, j int) bool {
		if a, b := vc.Classes[names[i]], vc.Classes[names[j]]; a != b {
			return a > b
		}
		return names[i] < names[j]
	})
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s %d", n, vc.Classes[n]))
	}
	if vc.Failed > 0 {
		parts = append(parts, fmt.Sprintf("%s %d", report.FailedColumn, vc.Failed))
	}
	return fmt.Sprintf("%d trials: %s", vc.Trials, strings.Join(parts, ", "))
}
