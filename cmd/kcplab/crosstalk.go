package main

import (
	"context"
	"encoding/json"
	"time"

	"kcplab/internal/cli"
	"kcplab/internal/kcpgo"
	"kcplab/matrix"
	"kcplab/report"
)

// runCrossTalk measures whether kcp-go sends one session's datagram through another session's socket
// (internal/kcpgo/crosstalk.go), in this process or, with -versions, in a kcplab built against each release.
func runCrossTalk(ctx context.Context, c *cli.Call) error {
	seconds := cli.Int(c.Flags, "seconds", 10, 1, 600, "how long sessions are started, per version")
	closers := cli.Int(c.Flags, "closers", 8, 1, 64, "goroutines starting, filling and closing short-lived sessions")
	steady := cli.Int(c.Flags, "steady", 4, 0, 64, "long-lived sessions writing all along")
	burst := cli.Int(c.Flags, "burst", 20000, 1, 1_000_000, "bytes each short-lived session writes before its Close")
	list := c.Flags.String("versions", "", "kcp-go versions, comma-separated, each in a kcplab built against it (default: this binary's kcp-go only)")
	cache := c.Flags.String("cache", "", "where the per-version binaries are kept (default: the user cache dir's kcplab/)")
	asJSON := c.Flags.Bool("json", false, "print the result as JSON")
	results := c.Flags.String("results", "", "also write the results as the crosstalk section of this RESULTS.md")
	if err := c.NoArgs(); err != nil {
		return err
	}
	if err := cli.OutFile("results", *results); err != nil {
		return err
	}
	opts := kcpgo.CrossTalkOptions{Duration: time.Duration(*seconds) * time.Second, Closers: *closers, Steady: *steady, BurstBytes: *burst}
	// Without -versions, in this process; with it, in a kcplab built against each release.
	vs, r := []string{""}, matrix.Runner{}
	if *list != "" {
		b, err := newBuilder(*cache)
		if err != nil {
			return err
		}
		if vs, err = parseVersions(ctx, b, *list); err != nil {
			return err
		}
		r.Builder = b
	}
	var all []kcpgo.CrossTalkResult
	for _, v := range vs {
		res, err := r.CrossTalk(ctx, v, opts, c.Stderr)
		if err != nil {
			return err
		}
		all = append(all, res)
		if *asJSON {
			err = json.NewEncoder(c.Stdout).Encode(res)
		} else {
			report.WriteCrossTalkText(c.Stdout, res)
		}
		if err != nil {
			return err
		}
	}
	if *results == "" {
		return nil
	}
	return report.WriteCrossTalkResults(*results, opts, all)
}
