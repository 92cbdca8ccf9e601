package matrix

import (
	"context"
	"fmt"
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
	return filepath.Join(out, "pairs", versions.FileName(server)+"__"+versions.FileName(client))
}

// Pairs runs the experiments over every ordered pair (server, client) of the peers: one peer process
// each (a kcp-go version's `kcplab peer`, built here, or the peer's command), the trials driven and
// classified here, with Discover. An experiment whose role is Go code runs only where that role's
// peer is a kcp-go peer (peer.Offered); a line says which pairs it skipped. It writes
// DIR/pairs/SERVER__CLIENT/ID/summary.json (and a pcapng per trial), DIR/pairs/pairs.json (a matrix
// whose "versions" are the pairs, report.PairLabel, and whose peers are named by their hellos) and
// DIR/pairs/pairs.md. A pair whose run fails is recorded with its error. A peer that does not start
// ends the run with an error wrapping ErrPeerStart.
func (r *Runner) Pairs(ctx context.Context, specs []PeerSpec) (*report.Matrix, error) {
	dir := filepath.Join(r.Out, "pairs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	mx := &report.Matrix{Trials: r.Trials}
	peers := map[string]*peer.Peer{}
	defer func() {
		for label, p := range peers {
			if err := p.Close(); err != nil {
				r.logf("%s: peer: %v\n", label, err)
			}
		}
	}()
	var labels []string
	kcpgo := map[string]bool{}
	for _, s := range specs {
		kcpgo[s.Label] = s.KCPGo != ""
		p, ident, err := r.startPeer(ctx, s, dir)
		if err != nil {
			return nil, err
		}
		peers[s.Label] = p
		labels = append(labels, s.Label)
		mx.Peers = append(mx.Peers, ident)
	}
	runs := func(s, c string) bool { return !r.Across || !kcpgo[s] || !kcpgo[c] }
	for _, s := range labels {
		for _, c := range labels {
			if runs(s, c) {
				mx.Versions = append(mx.Versions, report.PairLabel(s, c))
			}
		}
	}
	for _, e := range r.Experiments {
		me := report.ExperimentOf(e)
		var skipped []string
		for _, s := range labels {
			for _, c := range labels {
				if !runs(s, c) {
					continue
				}
				label := report.PairLabel(s, c)
				if err := peer.Offered(e, peers[s], peers[c]); err != nil {
					skipped = append(skipped, s+" × "+c)
					continue
				}
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
				path, err := peer.PairSummary(res, peers[s], peers[c]).Write(filepath.Join(pd, e.ID))
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
		if len(skipped) > 0 {
			r.logf("%s: skipped in %d pair(s) (%s): a role of it is Go code, which only a kcp-go peer runs\n", e.ID, len(skipped), strings.Join(skipped, ", "))
		}
		mx.Experiments = append(mx.Experiments, me)
	}
	if err := report.WriteMatrix(filepath.Join(dir, "pairs.json"), mx); err != nil {
		return nil, err
	}
	var md strings.Builder
	report.PairsMarkdown(&md, mx, labels)
	return mx, os.WriteFile(filepath.Join(dir, "pairs.md"), []byte(md.String()), 0o644)
}

// PeerCommand is the command that starts the peer of s: a kcp-go release's is `kcplab peer` built
// against it (bin), which it builds first.
func (r *Runner) PeerCommand(ctx context.Context, s PeerSpec) (args []string, bin *versions.Binary, err error) {
	if s.KCPGo == "" {
		return s.Command, nil, nil
	}
	if bin, err = r.Builder.Build(ctx, s.KCPGo); err != nil {
		return nil, nil, fmt.Errorf("kcp-go %s: %w", s.KCPGo, err)
	}
	return []string{bin.Path, "peer"}, bin, nil
}

// startPeer starts the peer of s (building `kcplab peer` against its kcp-go version first), its
// stderr in DIR/pairs/peer-LABEL.log, and returns it with its hello for the matrix.
func (r *Runner) startPeer(ctx context.Context, s PeerSpec, dir string) (*peer.Peer, report.MatrixPeer, error) {
	t0 := time.Now()
	args, bin, err := r.PeerCommand(ctx, s)
	if err != nil {
		return nil, report.MatrixPeer{}, err
	}
	logPath := filepath.Join(dir, "peer-"+versions.FileName(s.Label)+".log")
	log, err := os.Create(logPath)
	if err != nil {
		return nil, report.MatrixPeer{}, err
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stderr = log
	start := r.StartPeer
	if start == nil {
		start = peer.StartPeer
	}
	p, err := start(cmd)
	log.Close() // the process has its own
	if err != nil {
		return nil, report.MatrixPeer{}, fmt.Errorf("%s: %w: %v (its stderr is in %s)", s.Label, ErrPeerStart, err, logPath)
	}
	ident := report.MatrixPeer{Label: s.Label, Impl: p.Hello.Impl, ImplVersion: p.Hello.ImplVersion, KCPGo: p.Hello.KCPGo, Command: strings.Join(args, " ")}
	if bin == nil {
		r.logf("%s: peer started: %s (%s)\n", s.Label, p.Name(), ident.Command)
		return p, ident, nil
	}
	if p.Hello.KCPGo != bin.Name() {
		_ = p.Close()
		return nil, report.MatrixPeer{}, fmt.Errorf("kcp-go %s: the peer reports kcp-go %s", s.KCPGo, p.Hello.KCPGo)
	}
	how := "built"
	if bin.Cached {
		how = "cached"
	}
	r.logf("kcp-go %s: kcplab %s in %.1fs, peer started (%s)\n", s.KCPGo, how, time.Since(t0).Seconds(), bin.Path)
	return p, ident, nil
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
