package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"kcplab/hostrun"
	"kcplab/report"
)

// hostsBlock is the RESULTS.md block `kcplab hosts -results` writes, and hostsTitle its heading.
const (
	hostsBlock = "hosts"
	hostsTitle = "## Peers on two hosts: veth and loopback"
)

// runHosts runs pair experiments (p001 and p003 by default) with the server's and the client's
// `kcplab peer` placed as -on says (package hostrun), and writes the comparison of their class shares.
func runHosts(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	on := fs.String("on", "loopback,veth", "placements, comma-separated: loopback (both peers on 127.0.0.1) and veth (each peer in a network namespace of its own, over a veth pair; root)")
	trials := intFlag(fs, "trials", DefaultPairTrials, 1, 100000, "trials per experiment and placement")
	parallel := intFlag(fs, "parallel", 0, 0, 64, "trials running at once (0: the harness's default)")
	out := fs.String("out", filepath.Join("out", "hosts"), "directory for DIR/PLACEMENT/ID/summary.json, trial-NNN.pcapng and the peers' stderr")
	results := fs.String("results", "", "also write the comparison into this RESULTS.md (its generated block "+hostsBlock+")")
	onlyReport := fs.Bool("report", false, "run nothing: write the comparison from the summaries already under -out")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	var ps []hostrun.Placement
	for _, s := range splitList(*on) {
		p, err := hostrun.ParsePlacement(s)
		if err != nil {
			return usageErr("-on: %v", err)
		}
		ps = append(ps, p)
	}
	if len(ps) == 0 {
		return usageErr("-on: no placement given")
	}
	if len(pos) == 0 {
		pos = DefaultPairIDs
	}
	es, err := selectExperiments(pos)
	if err != nil {
		return err
	}
	if !*onlyReport {
		for _, p := range ps {
			if err := hostrun.Available(p); err != nil {
				return fmt.Errorf("-on %s: %w", p, err)
			}
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		defer stop()
		cfg := hostrun.Config{Experiments: es, Trials: *trials, Parallel: *parallel, Out: *out,
			Log: func(format string, args ...any) { fmt.Fprintf(stdout, format, args...) }}
		for _, p := range ps {
			if _, err := hostrun.Run(ctx, cfg, p); err != nil {
				return err
			}
		}
	}
	c := hostrun.Compare(*out, ps, es)
	// The command that made the runs: without -report, which only rewrites the comparison.
	var made []string
	for _, a := range args {
		if a != "-report" && a != "--report" && a != "-report=true" && a != "--report=true" {
			made = append(made, a)
		}
	}
	command := "kcplab hosts " + strings.Join(made, " ")
	section := report.HostsSection(c.Matrix, c.Peers, strings.TrimSpace(command))
	md := filepath.Join(*out, "hosts.md")
	if err := os.WriteFile(md, []byte(section), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", md)
	if *results != "" {
		if err := report.UpdateFile(*results, hostsBlock, section, hostsTitle); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote the %s block of %s\n", hostsBlock, *results)
	}
	if failed := c.Matrix.Failed(); failed > 0 {
		return failErr("%d trial(s) fit no class or broke an invariant (see %s)", failed, md)
	}
	return nil
}
