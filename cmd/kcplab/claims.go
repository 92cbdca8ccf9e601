package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"kcplab/claims"
	"kcplab/hosts"
	"kcplab/internal/kcpgo"
	"kcplab/internal/progress"
	"kcplab/matrix"
	"kcplab/peer"
	"kcplab/report"
	"kcplab/versions"
)

func runClaims(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	seeds := intFlag(fs, "seeds", 5, 2, 50, "link seeds per figure: each figure's interval is over them")
	bulkSeeds := fs.Int("bulk-seeds", 3, "link seeds per bulk figure (0 skips the bulk transfers; else 2..50)")
	parallel := intFlag(fs, "parallel", 10, 1, 64, "interactive cases at once")
	hostsMode := fs.String("hosts", "auto", "the comparison with TCP between two network namespaces: on, off, or auto (on when this process can make namespaces and TUN devices)")
	out := fs.String("out", "out/claims", "where claims.json and the pcapng files go")
	chartsDir := fs.String("charts", "", "where the charts go (default: -out)")
	resultsFile := fs.String("results", "", "also write the figures as the claims section of this RESULTS.md (charts and pcapng linked relative to it)")
	command := fs.String("command", "kcplab claims", "the command RESULTS.md credits")
	skip := fs.String("skip", "", "leave out these parts, comma-separated: modes (the mode table), interactive, bulk")
	peerList := fs.String("peers", "", "also run the mode table on these peers, comma-separated: ikcp (the C reference), a kcp-go release (seed, v5.6.1, ...) built as `kcplab peer`")
	cache := fs.String("cache", "", "where the per-version binaries are kept (default: the user cache dir's kcplab/)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 0:
		return usageErr("claims takes no arguments, got %q", pos)
	case *bulkSeeds != 0 && (*bulkSeeds < 2 || *bulkSeeds > 50):
		return usageErr("-bulk-seeds %d: want 0 or 2..50", *bulkSeeds)
	}
	for _, g := range splitList(*skip) {
		if !slices.Contains(claims.GroupNames, g) {
			return usageErr("-skip %q: want some of %s", g, strings.Join(claims.GroupNames, ", "))
		}
	}
	why, err := hosts.Decide(*hostsMode)
	if err != nil {
		return usageErr("-hosts %v", err)
	}
	if why == "" {
		// Namespaces that a killed run left behind.
		if gone, err := hosts.Sweep(); err != nil {
			return failErr("%v", err)
		} else if len(gone) > 0 {
			fmt.Fprintf(stdout, "removed %d namespace(s) a killed run left: %v\n", len(gone), gone)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	peers, err := claimPeers(ctx, stdout, splitList(*peerList), *cache)
	if err != nil {
		return err
	}
	plan, err := claims.DefaultPlan(claims.Options{Seeds: *seeds, BulkSeeds: *bulkSeeds, Hosts: why == "", Parallel: *parallel, Peers: peers, Skip: splitList(*skip)})
	if err != nil {
		return usageErr("%v", err)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return failErr("%v", err)
	}
	total := len(plan.Cases())
	fmt.Fprintf(stdout, "kcplab claims: %d cases (kcp-go %s)", total, kcpgo.Version())
	if why != "" {
		fmt.Fprintf(stdout, "; no comparison with TCP: %s", why)
	}
	fmt.Fprintln(stdout)
	count, finish := progress.Counter(stdout, stderr, "claims", total, "cases")
	n, failed := 0, 0
	results := claims.RunPlan(ctx, plan, claims.KeepPcap, func(r claims.Result) {
		n++
		count(n, total)
		if r.Err != nil && ctx.Err() == nil {
			failed++
			fmt.Fprintf(stderr, "  FAILED %s seed %d: %v\n", r.Case.Key(), r.Case.Seed, r.Err)
		}
	})
	finish()
	if ctx.Err() != nil {
		return failErr("interrupted: %d of %d cases ran; nothing written", n, total)
	}
	figs := claims.Aggregate(results)
	report.WriteClaimsText(stdout, figs)

	pcaps, err := claims.WritePcaps(*out, results, report.Slug)
	if err != nil {
		return failErr("%v", err)
	}
	checks := claims.RetransmissionChecks(ctx, pcaps)
	for _, c := range checks {
		fmt.Fprintln(stdout, "  "+c)
	}
	if err := claims.WriteFigures(filepath.Join(*out, "claims.json"), figs); err != nil {
		return failErr("%v", err)
	}
	fmt.Fprintf(stdout, "wrote %s and %d pcapng file(s) in %s\n", filepath.Join(*out, "claims.json"), len(pcaps), *out)
	if *resultsFile != "" {
		if *chartsDir == "" {
			*chartsDir = *out
		}
		paths := make([]string, len(pcaps))
		for i, p := range pcaps {
			paths[i] = p.Path
		}
		meta := report.ClaimsMeta{Command: *command, KCPGo: kcpgo.Version(), Seeds: *seeds, Hosts: why, Checks: checks}
		if err := report.WriteClaimsResults(*resultsFile, *chartsDir, figs, paths, meta); err != nil {
			return failErr("%v", err)
		}
		fmt.Fprintf(stdout, "wrote the claims section of %s\n", *resultsFile)
	}
	if failed > 0 {
		return failErr("%d of %d cases failed a check (above)", failed, total)
	}
	return nil
}

// claimPeers resolves -peers (as matrix -pairs does) and builds the kcp-go releases among them.
func claimPeers(ctx context.Context, stdout io.Writer, items []string, cache string) ([]claims.PeerOption, error) {
	if len(items) == 0 {
		return nil, nil
	}
	root, err := projectRoot()
	if err != nil {
		return nil, err
	}
	b := &versions.Builder{Root: root, CacheDir: cache}
	specs, err := parsePeers(ctx, b, "-peers", items, nil)
	if err != nil {
		return nil, err
	}
	r := matrix.Runner{Builder: b}
	var out []claims.PeerOption
	for _, s := range specs {
		args, bin, err := r.PeerCommand(ctx, s)
		if err != nil {
			return nil, failErr("%v", err)
		}
		name := s.Label
		if bin != nil {
			name = "kcp-go " + bin.Name()
			fmt.Fprintf(stdout, "peer %s: %s\n", name, bin.Path)
		}
		out = append(out, claims.PeerOption{Name: name, Start: func(context.Context) (*peer.Peer, error) {
			return peer.StartPeer(exec.Command(args[0], args[1:]...))
		}})
	}
	return out, nil
}
