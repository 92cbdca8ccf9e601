package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"os/signal"
	"time"

	"kcplab/experiments"
	"kcplab/peer"
)

// runPeer serves the peer protocol (peer/peer.go) on stdin and stdout: `kcplab matrix -pairs`
// runs one per kcp-go release and drives trials whose server and client run in different ones.
// With KCPLAB_PEER_CLOCK_SHIFT set (a duration), every time it reports is shifted by it, as a peer
// whose clock is off would report it (to test the coordinator's clock estimate).
func runPeer(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	if _, err := parse(fs, args); err != nil {
		return err
	}
	// stdout carries the protocol: anything else the process prints goes to stderr.
	if stdout == os.Stdout {
		os.Stdout = os.Stderr
	}
	var shift time.Duration
	if v := os.Getenv(peer.ClockShiftEnv); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return usageErr("%s=%q: %v", peer.ClockShiftEnv, v, err)
		}
		shift = d
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := peer.ServePeerShifted(ctx, os.Stdin, stdout, experiments.Lookup, shift)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
