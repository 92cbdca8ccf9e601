package main

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"os"
	"os/signal"
	"time"

	"kcplab/internal/kcpgo"
	"kcplab/matrix"
	"kcplab/report"
	"kcplab/versions"
)

// runCrossTalk measures whether kcp-go sends one session's datagram through another session's socket
// (internal/kcpgo/crosstalk.go), in this process or, with -versions, in a kcplab built against each release.
func runCrossTalk(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	seconds := intFlag(fs, "seconds", 10, 1, 600, "how long sessions are started, per version")
	closers := intFlag(fs, "closers", 8, 1, 64, "goroutines starting, filling and closing short-lived sessions")
	steady := intFlag(fs, "steady", 4, 0, 64, "long-lived sessions writing all along")
	burst := intFlag(fs, "burst", 20000, 1, 1_000_000, "bytes each short-lived session writes before its Close")
	list := fs.String("versions", "", "kcp-go versions, comma-separated, each in a kcplab built against it (default: this binary's kcp-go only)")
	cache := fs.String("cache", "", "where the per-version binaries are kept (default: the user cache dir's kcplab/)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	results := fs.String("results", "", "also write the results as the crosstalk section of this RESULTS.md")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 0:
		return usageErr("crosstalk takes no arguments, got %q", pos)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	opts := kcpgo.CrossTalkOptions{Duration: time.Duration(*seconds) * time.Second, Closers: *closers, Steady: *steady, BurstBytes: *burst}
	// Without -versions, in this process; with it, in a kcplab built against each release.
	vs, r := []string{""}, matrix.Runner{}
	if *list != "" {
		root, err := projectRoot()
		if err != nil {
			return err
		}
		b := &versions.Builder{Root: root, CacheDir: *cache}
		if vs, err = parseVersions(ctx, b, *list); err != nil {
			return err
		}
		r.Builder = b
	}
	var all []kcpgo.CrossTalkResult
	for _, v := range vs {
		var res kcpgo.CrossTalkResult
		if v == "" {
			res, err = kcpgo.CrossTalk(ctx, opts)
		} else {
			res, err = r.CrossTalk(ctx, v, opts, stderr)
		}
		if err != nil {
			return err
		}
		all = append(all, res)
		if *asJSON {
			err = json.NewEncoder(stdout).Encode(res)
		} else {
			report.WriteCrossTalkText(stdout, res)
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
