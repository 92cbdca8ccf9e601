package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"kcplab/experiments"
	"kcplab/hostrun"
	"kcplab/internal/cli"
	"kcplab/report"
)

// DefaultHostRuns is the runs of each placement unless -runs says otherwise: three a side or more
// hold the test over runs' level (report.Comparison).
const DefaultHostRuns = 3

// runHosts runs pair experiments (p001 and p003 by default) with the server's and the client's
// `kcplab peer` placed as -on says (package hostrun), and writes the comparison of their class shares.
func runHosts(ctx context.Context, c *cli.Call) error {
	on := c.Flags.String("on", "loopback,veth", "placements, comma-separated: loopback (both peers on 127.0.0.1) and veth (each peer in a network namespace of its own, over a veth pair; root)")
	trials := cli.Int(c.Flags, "trials", DefaultPairTrials, 1, 100000, "trials per experiment, placement and run")
	runs := cli.Int(c.Flags, "runs", DefaultHostRuns, 1, 100, "runs of each placement, each with peer processes (and namespaces) of its own, the placements taking turns; placements are compared over their runs")
	parallel := cli.Int(c.Flags, "parallel", 0, 0, 64, "trials running at once (0: the harness's default)")
	out := c.Flags.String("out", filepath.Join("out", "hosts"), "directory for DIR/PLACEMENT/run-N/ID/summary.json, trial-NNN.pcapng and the peers' stderr")
	results := c.Flags.String("results", "", "also write the comparison into this RESULTS.md (its generated block "+report.HostsBlock+")")
	onlyReport := c.Flags.Bool("report", false, "run nothing: write the comparison from the summaries already under -out (every run there)")
	pos, err := c.Parse()
	if err != nil {
		return err
	}
	ps, err := hostrun.ParsePlacements(cli.SplitList(*on))
	if err != nil {
		return cli.Usage("-on: %v", err)
	}
	if err := cli.OutFile("results", *results); err != nil {
		return err
	}
	if len(pos) == 0 {
		pos = DefaultPairIDs
	}
	es, err := experiments.SelectAll(pos)
	if err != nil {
		return err
	}
	if !*onlyReport {
		if err := cli.OutDir("out", *out); err != nil {
			return err
		}
		cfg := hostrun.Config{Experiments: es, Trials: *trials, Runs: *runs, Parallel: *parallel, Out: *out,
			Log: func(format string, args ...any) { fmt.Fprintf(c.Stdout, format, args...) }}
		if err := hostrun.RunAll(ctx, cfg, ps); errors.Is(err, hostrun.ErrUnavailable) {
			return cli.Usage("-on: %v", err)
		} else if err != nil {
			return err
		}
	}
	read := *runs // the runs this call made; -report reads every run there is
	if *onlyReport {
		read = 0
	}
	cmp := hostrun.Compare(*out, ps, es, read)
	if err := cmp.Unread(); err != nil && *onlyReport {
		return cli.Usage("-report: %v", err) // the summaries are all -report has: bad input, not a failed run
	}
	// The command that made the runs: without -report, which only rewrites the comparison.
	made := slices.DeleteFunc(slices.Clone(c.Args), func(a string) bool {
		return slices.Contains([]string{"report", "report=true"}, strings.TrimLeft(a, "-"))
	})
	section := report.HostsSection(cmp, strings.TrimSpace("kcplab hosts "+strings.Join(made, " ")))
	md := filepath.Join(*out, "hosts.md")
	if err := os.WriteFile(md, []byte(section), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "wrote %s\n", md)
	if *results != "" {
		if err := report.WriteHostsResults(*results, section); err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "wrote the %s block of %s\n", report.HostsBlock, *results)
	}
	if failed := cmp.Pooled.Failed(); failed > 0 {
		return cli.Fail("%d trial(s) fit no class or broke an invariant (see %s)", failed, md)
	}
	return nil
}
