package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"time"

	"kcplab/harness"
	"kcplab/report"
	"kcplab/versions"
)

// runCrossTalk measures whether kcp-go sends one session's datagram through another session's socket
// (harness/crosstalk.go), in this process or, with -versions, in a kcplab built against each release.
func runCrossTalk(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("crosstalk", stderr)
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
	opts := harness.CrossTalkOptions{Duration: time.Duration(*seconds) * time.Second, Closers: *closers, Steady: *steady, BurstBytes: *burst}
	var all []harness.CrossTalkResult
	show := func(res harness.CrossTalkResult) error {
		all = append(all, res)
		if *asJSON {
			return json.NewEncoder(stdout).Encode(res)
		}
		printCrossTalk(stdout, res)
		return nil
	}
	if *list == "" {
		res, err := harness.CrossTalk(ctx, opts)
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
	for _, v := range vs {
		bin, err := b.Build(ctx, v)
		if err != nil {
			return err
		}
		cmd := exec.CommandContext(ctx, bin.Path, "crosstalk", "-json", fmt.Sprint("-seconds=", *seconds),
			fmt.Sprint("-closers=", *closers), fmt.Sprint("-steady=", *steady), fmt.Sprint("-burst=", *burst))
		cmd.Stderr = stderr
		out, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("kcp-go %s: %s crosstalk: %w", v, bin.Path, err)
		}
		var res harness.CrossTalkResult
		if err := json.Unmarshal(out, &res); err != nil {
			return fmt.Errorf("kcp-go %s: reading its result: %w", v, err)
		}
		if err := show(res); err != nil {
			return err
		}
	}
	return writeCrossTalkResults(*results, opts, all)
}

// writeCrossTalkResults writes the crosstalk block of the RESULTS.md at path (nothing for "").
func writeCrossTalkResults(path string, o harness.CrossTalkOptions, all []harness.CrossTalkResult) error {
	if path == "" {
		return nil
	}
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	var md strings.Builder
	fmt.Fprintf(&md, "`kcplab crosstalk -seconds %d -closers %d -steady %d -burst %d`, one process per release: %d goroutines each dial, write %d bytes and Close one session after another for %d s, beside %d sessions writing all along, all to one listener.\n\n",
		int(o.Duration.Seconds()), o.Closers, o.Steady, o.BurstBytes, o.Closers, o.BurstBytes, int(o.Duration.Seconds()), o.Steady)
	md.WriteString("| kcp-go | client sessions | datagrams sent | with another session's conv | per million |\n|---|---:|---:|---:|---:|\n")
	for _, r := range all {
		fmt.Fprintf(&md, "| %s | %d | %d | %d | %.1f |\n", r.KCPGo, r.Sessions, r.Sent, r.Foreign, 1e6*float64(r.Foreign)/float64(max(r.Sent, 1)))
	}
	for _, r := range all {
		if len(r.Examples) > 0 {
			fmt.Fprintf(&md, "\nFor example (%s): %s.\n", r.KCPGo, r.Examples[0])
			break
		}
	}
	doc := report.Update(old, []string{"crosstalk"}, map[string]string{"crosstalk": md.String()},
		func(string) string { return "### Datagrams sent through another session's socket" })
	return os.WriteFile(path, doc, 0o644)
}

func printCrossTalk(w io.Writer, r harness.CrossTalkResult) {
	fmt.Fprintf(w, "kcp-go %s: %d client sessions sent %d datagrams; %d carried another session's conv\n",
		r.KCPGo, r.Sessions, r.Sent, r.Foreign)
	if len(r.Examples) > 0 {
		fmt.Fprintf(w, "  e.g. %s\n", strings.Join(r.Examples, "\n  e.g. "))
	}
}
