package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"kcplab/internal/kcpgo"
	"kcplab/matrix"
	"kcplab/report"
	"kcplab/versions"
)

// runCrossTalk measures whether kcp-go sends one session's datagram through another session's socket
// (internal/kcpgo/crosstalk.go), in this process or, with -versions, in a kcplab built against each release.
func runCrossTalk(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	seconds := fs.Int("seconds", 10, "how long sessions are started, per version (1..600)")
	closers := fs.Int("closers", 8, "goroutines starting, filling and closing short-lived sessions (1..64)")
	steady := fs.Int("steady", 4, "long-lived sessions writing all along (0..64)")
	burst := fs.Int("burst", 20000, "bytes each short-lived session writes before its Close (1..1000000)")
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
	case *seconds < 1 || *seconds > 600:
		return usageErr("-seconds %d: want 1..600", *seconds)
	case *closers < 1 || *closers > 64:
		return usageErr("-closers %d: want 1..64", *closers)
	case *steady < 0 || *steady > 64:
		return usageErr("-steady %d: want 0..64", *steady)
	case *burst < 1 || *burst > 1_000_000:
		return usageErr("-burst %d: want 1..1000000", *burst)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	opts := kcpgo.CrossTalkOptions{Duration: time.Duration(*seconds) * time.Second, Closers: *closers, Steady: *steady, BurstBytes: *burst}
	var all []kcpgo.CrossTalkResult
	show := func(res kcpgo.CrossTalkResult) error {
		all = append(all, res)
		if *asJSON {
			return json.NewEncoder(stdout).Encode(res)
		}
		printCrossTalk(stdout, res)
		return nil
	}
	if *list == "" {
		res, err := kcpgo.CrossTalk(ctx, opts)
		if err != nil {
			return err
		}
		if err := show(res); err != nil {
			return err
		}
		return writeCrossTalkResults(*results, opts, all)
	}

	root, err := projectRoot()
	if err != nil {
		return err
	}
	b := &versions.Builder{Root: root, CacheDir: *cache}
	vs, err := parseVersions(ctx, b, *list)
	if err != nil {
		return err
	}
	r := matrix.Runner{Builder: b}
	for _, v := range vs {
		res, err := r.CrossTalk(ctx, v, opts, stderr)
		if err != nil {
			return err
		}
		if err := show(res); err != nil {
			return err
		}
	}
	return writeCrossTalkResults(*results, opts, all)
}

// writeCrossTalkResults writes the crosstalk block of the RESULTS.md at path (nothing for "").
func writeCrossTalkResults(path string, o kcpgo.CrossTalkOptions, all []kcpgo.CrossTalkResult) error {
	if path == "" {
		return nil
	}
	return report.UpdateFile(path, "crosstalk", report.CrossTalkSection(o, all), "### Datagrams sent through another session's socket")
}

func printCrossTalk(w io.Writer, r kcpgo.CrossTalkResult) {
	fmt.Fprintf(w, "kcp-go %s: %d client sessions sent %d datagrams; %d carried another session's conv\n",
		r.KCPGo, r.Sessions, r.Sent, r.Foreign)
	if len(r.Examples) > 0 {
		fmt.Fprintf(w, "  e.g. %s\n", strings.Join(r.Examples, "\n  e.g. "))
	}
}
