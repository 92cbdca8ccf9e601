package main

import (
	"context"
	"encoding/json"
	"errors"
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
	"kcplab/matrix"
	"kcplab/peer"
	"kcplab/report"
	"kcplab/versions"
)

// pcapCases are the workloads whose first seed is kept as a pcapng, by workload name and condition.
var pcapCases = map[string][]string{
	claims.InteractiveEcho.Name():      {"loss 10%", "50ms+5%", "200ms+5%"},
	claims.Bulk{Bytes: 1 << 20}.Name(): {"loss 5%"},
}

func runClaims(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	seeds := fs.Int("seeds", 5, "link seeds per figure (2..50: each figure's interval is over them)")
	bulkSeeds := fs.Int("bulk-seeds", 3, "link seeds per bulk figure (0 skips the bulk transfers; else 2..50)")
	parallel := fs.Int("parallel", 10, "interactive cases at once (1..64)")
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
	case *seeds < 2 || *seeds > 50:
		return usageErr("-seeds %d: want 2..50", *seeds)
	case *bulkSeeds != 0 && (*bulkSeeds < 2 || *bulkSeeds > 50):
		return usageErr("-bulk-seeds %d: want 0 or 2..50", *bulkSeeds)
	case *parallel < 1 || *parallel > 64:
		return usageErr("-parallel %d: want 1..64", *parallel)
	}
	for _, g := range splitList(*skip) {
		if !slices.Contains(claims.GroupNames, g) {
			return usageErr("-skip %q: want some of %s", g, strings.Join(claims.GroupNames, ", "))
		}
	}
	var why string
	switch *hostsMode {
	case "on":
		if err := hosts.Available(); err != nil {
			return usageErr("-hosts on: %v", err)
		}
	case "off":
		why = "-hosts off"
	case "auto":
		if err := hosts.Available(); err != nil {
			why = err.Error()
		}
	default:
		return usageErr("-hosts %q: want on, off or auto", *hostsMode)
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
	keep := func(c claims.Case) bool {
		cond, ok := claims.ConditionOf(c)
		if !ok || c.Path != claims.Hosts || c.Seed != 1 {
			return false
		}
		for _, name := range pcapCases[c.Workload.Name()] {
			if name == cond.Name {
				return true
			}
		}
		return false
	}
	total := len(plan.Cases())
	fmt.Fprintf(stdout, "kcplab claims: %d cases (kcp-go %s)", total, kcpgo.Version())
	if why != "" {
		fmt.Fprintf(stdout, "; no comparison with TCP: %s", why)
	}
	fmt.Fprintln(stdout)
	progress, finish := newProgress(stdout, stderr, "claims", total, "cases")
	n, failed := 0, 0
	results := claims.RunPlan(ctx, plan, keep, func(r claims.Result) {
		n++
		progress(n, total)
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
	printClaims(stdout, figs)

	pcaps, err := writeClaimPcaps(*out, results)
	if err != nil {
		return failErr("%v", err)
	}
	checks := tcpRetransmissionChecks(ctx, pcaps)
	for _, c := range checks {
		fmt.Fprintln(stdout, "  "+c)
	}
	if err := writeJSON(filepath.Join(*out, "claims.json"), figs); err != nil {
		return failErr("%v", err)
	}
	fmt.Fprintf(stdout, "wrote %s and %d pcapng file(s) in %s\n", filepath.Join(*out, "claims.json"), len(pcaps), *out)
	if *resultsFile != "" {
		rel := filepath.Dir(*resultsFile)
		cdir := *chartsDir
		if cdir == "" {
			cdir = *out
		}
		charts, err := report.ClaimsCharts(figs, cdir, rel)
		if err != nil {
			return failErr("charts: %v", err)
		}
		var relPcaps []string
		for _, p := range pcaps {
			if r, err := filepath.Rel(rel, p.path); err == nil {
				relPcaps = append(relPcaps, filepath.ToSlash(r))
			}
		}
		meta := report.ClaimsMeta{Command: *command, KCPGo: kcpgo.Version(), Seeds: *seeds, Hosts: why, Charts: charts, Pcaps: relPcaps, Checks: checks}
		if err := report.UpdateFile(*resultsFile, "claims", report.ClaimsBlock(figs, meta), "KCP's claims"); err != nil {
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
	specs, err := matrix.ParsePeers(items, nil, root, func(s string) (string, error) { return parseVersion(ctx, b, "-peers", s) })
	if errors.Is(err, matrix.ErrBadPeer) {
		return nil, usageErr("%v", err)
	}
	if err != nil {
		return nil, err
	}
	var out []claims.PeerOption
	for _, s := range specs {
		args := s.Command
		name := s.Label
		if s.KCPGo != "" {
			bin, err := b.Build(ctx, s.KCPGo)
			if err != nil {
				return nil, failErr("kcp-go %s: %v", s.KCPGo, err)
			}
			args, name = []string{bin.Path, "peer"}, "kcp-go "+bin.Name()
			fmt.Fprintf(stdout, "peer %s: %s\n", name, bin.Path)
		}
		out = append(out, claims.PeerOption{Name: name, Start: func(context.Context) (*peer.Peer, error) {
			return peer.StartPeer(exec.Command(args[0], args[1:]...))
		}})
	}
	return out, nil
}

// claimPcap is a pcapng a claims run wrote, and the results in it.
type claimPcap struct {
	path, title string
	results     []claims.Result
}

// tcpRetransmissionChecks compares, for each pcapng, the TCP data segments the link dropped with the
// segments tshark marks as sent again (none without tshark).
func tcpRetransmissionChecks(ctx context.Context, pcaps []claimPcap) []string {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		return []string{"tshark is not installed: the TCP captures were not checked against it"}
	}
	var out []string
	for _, p := range pcaps {
		for _, r := range p.results {
			if !r.Case.Transport.TCP {
				continue
			}
			n, err := claims.TsharkRetransmissions(ctx, tshark, p.path, r.Case.Transport.String())
			if err != nil {
				out = append(out, fmt.Sprintf("%s: %v", p.title, err))
				continue
			}
			out = append(out, fmt.Sprintf("%s: the link dropped %d TCP data segment(s); tshark marks %d segment(s) sent again in %s",
				p.title, claims.DroppedDataSegments(r), n, filepath.Base(p.path)))
		}
	}
	return out
}

// writeClaimPcaps writes one pcapng per kept workload and condition, its transports side by side.
func writeClaimPcaps(dir string, results []claims.Result) ([]claimPcap, error) {
	var order []string
	by := map[string][]claims.Result{}
	for _, r := range results {
		if r.Records == nil {
			continue
		}
		cond, _ := claims.ConditionOf(r.Case)
		name := report.Slug(r.Case.Workload.Name() + " " + cond.Name)
		if by[name] == nil {
			order = append(order, name)
		}
		by[name] = append(by[name], r)
	}
	var pcaps []claimPcap
	for _, name := range order {
		path := filepath.Join(dir, name+".pcapng")
		f, err := os.Create(path)
		if err != nil {
			return pcaps, err
		}
		rs := by[name]
		cond, _ := claims.ConditionOf(rs[0].Case)
		title := rs[0].Case.Workload.Name() + ", " + cond.Name
		err = claims.WritePcapng(f, title, rs)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return pcaps, err
		}
		pcaps = append(pcaps, claimPcap{path, title, rs})
	}
	return pcaps, nil
}

// writeJSON writes v as indented JSON to path.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// printClaims prints one line per figure.
func printClaims(w io.Writer, figs []*claims.Figures) {
	for _, f := range figs {
		fmt.Fprintf(w, "  %-70s", f.Key)
		if f.Avg.N > 0 {
			fmt.Fprintf(w, " avg %7.1f ms  p99 %7.1f  max %7.1f", f.Avg.Mean, f.P99.Mean, f.Max.Mean)
		}
		if f.Complete.N > 0 {
			fmt.Fprintf(w, " completion %6.2f s", f.Complete.Mean)
		}
		fmt.Fprintf(w, "  overhead %.3f", f.Overhead.Mean)
		if f.Failed > 0 {
			fmt.Fprintf(w, "  (%d failed)", f.Failed)
		}
		fmt.Fprintln(w)
	}
}
