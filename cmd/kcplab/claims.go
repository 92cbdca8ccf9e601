package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"kcplab/claims"
	"kcplab/hosts"
	"kcplab/internal/cli"
	"kcplab/internal/kcpgo"
	"kcplab/internal/progress"
	"kcplab/matrix"
	"kcplab/peer"
	"kcplab/report"
)

func runClaims(ctx context.Context, c *cli.Call) error {
	var o claims.Options
	cli.IntVar(c.Flags, &o.Seeds, "seeds", 5, 2, 50, "link seeds per figure: each figure's interval is over them")
	cli.IntVar(c.Flags, &o.BulkSeeds, "bulk-seeds", 3, 0, 50, "link seeds per bulk figure (0 skips the bulk transfers; else at least 2)")
	cli.IntVar(c.Flags, &o.Parallel, "parallel", 10, 1, 64, "interactive cases at once")
	hostsMode := c.Flags.String("hosts", "auto", "the comparison with TCP between two network namespaces: on, off, or auto (on when this process can make namespaces and TUN devices)")
	out := c.Flags.String("out", "out/claims", "where claims.json and the pcapng files go")
	chartsDir := c.Flags.String("charts", "", "where the charts go (default: -out)")
	resultsFile := c.Flags.String("results", "", "also write the figures as the claims section of this RESULTS.md (charts and pcapng linked relative to it)")
	command := c.Flags.String("command", "kcplab claims", "the command RESULTS.md credits")
	skip := c.Flags.String("skip", "", "leave out these parts, comma-separated: modes (the mode table), interactive, bulk")
	peerList := c.Flags.String("peers", "", "also run the mode table on these peers, comma-separated: ikcp (the C reference), a kcp-go release (seed, v5.6.1, ...) built as `kcplab peer`")
	cache := c.Flags.String("cache", "", "where the per-version binaries are kept (default: the user cache dir's kcplab/)")
	if err := c.NoArgs(); err != nil {
		return err
	}
	o.Skip = cli.SplitList(*skip)
	if err := o.Check(); err != nil {
		return cli.Usage("%v", err)
	}
	if err := cli.OutDir("out", *out); err != nil {
		return err
	}
	if err := cli.OutFile("results", *resultsFile); err != nil {
		return err
	}
	if *chartsDir != "" {
		if err := cli.OutDir("charts", *chartsDir); err != nil {
			return err
		}
	}
	why, err := hosts.Decide(*hostsMode)
	if err != nil {
		return cli.Usage("-hosts %v", err)
	}
	if o.Hosts = why == ""; o.Hosts {
		// Namespaces that a killed run left behind.
		if gone, err := hosts.Sweep(); err != nil {
			return err
		} else if len(gone) > 0 {
			fmt.Fprintf(c.Stdout, "removed %d namespace(s) a killed run left: %v\n", len(gone), gone)
		}
	}
	if o.Peers, err = claimPeers(ctx, c.Stdout, cli.SplitList(*peerList), *cache); err != nil {
		return err
	}
	plan, err := claims.DefaultPlan(o)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	total := len(plan.Cases())
	fmt.Fprintf(c.Stdout, "kcplab claims: %d cases (kcp-go %s)", total, kcpgo.Version())
	if why != "" {
		fmt.Fprintf(c.Stdout, "; no comparison with TCP: %s", why)
	}
	fmt.Fprintln(c.Stdout)
	count, finish := progress.Counter(c.Stdout, c.Stderr, "claims", total, "cases")
	n, failed := 0, 0
	results := claims.RunPlan(ctx, plan, claims.KeepPcap, func(r claims.Result) {
		n++
		count(n, total)
		if r.Err != nil && ctx.Err() == nil {
			failed++
			fmt.Fprintf(c.Stderr, "  FAILED %s seed %d: %v\n", r.Case.Key(), r.Case.Seed, r.Err)
		}
	})
	finish()
	if ctx.Err() != nil {
		return cli.Fail("interrupted: %d of %d cases ran; nothing written", n, total)
	}
	figs := claims.Aggregate(results)
	report.WriteClaimsText(c.Stdout, figs)

	pcaps, err := claims.WritePcaps(*out, results, report.Slug)
	if err != nil {
		return err
	}
	checks := claims.RetransmissionChecks(ctx, pcaps)
	for _, line := range checks {
		fmt.Fprintln(c.Stdout, "  "+line)
	}
	if err := claims.WriteFigures(filepath.Join(*out, "claims.json"), figs); err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "wrote %s and %d pcapng file(s) in %s\n", filepath.Join(*out, "claims.json"), len(pcaps), *out)
	if *resultsFile != "" {
		if *chartsDir == "" {
			*chartsDir = *out
		}
		meta := report.ClaimsMeta{Command: *command, KCPGo: kcpgo.Version(), Seeds: o.Seeds, Hosts: why, Checks: checks}
		if err := report.WriteClaimsResults(*resultsFile, *chartsDir, figs, pcaps, meta); err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "wrote the claims section of %s\n", *resultsFile)
	}
	if failed > 0 {
		return cli.Fail("%d of %d cases failed a check (above)", failed, total)
	}
	return nil
}

// claimPeers resolves -peers (as matrix -pairs does) and builds the kcp-go releases among them.
func claimPeers(ctx context.Context, stdout io.Writer, items []string, cache string) ([]claims.PeerOption, error) {
	if len(items) == 0 {
		return nil, nil
	}
	b, err := newBuilder(cache)
	if err != nil {
		return nil, err
	}
	specs, err := parsePeers(ctx, b, items, nil)
	if err != nil {
		return nil, fmt.Errorf("-peers: %w", err)
	}
	r := matrix.Runner{Builder: b}
	var out []claims.PeerOption
	for _, s := range specs {
		args, bin, err := r.PeerCommand(ctx, s)
		if err != nil {
			return nil, err
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
