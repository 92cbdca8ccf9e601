package main

import (
	"context"
	"errors"
	"os"
	"time"

	"kcplab/experiments"
	"kcplab/internal/cli"
	"kcplab/peer"
)

// runPeer serves the peer protocol (peer/peer.go) on stdin and stdout: `kcplab matrix -pairs`
// runs one per kcp-go release and drives trials whose server and client run in different ones.
// With KCPLAB_PEER_CLOCK_SHIFT set (a duration), every time it reports is shifted by it, as a peer
// whose clock is off would report it (to test the coordinator's clock estimate).
func runPeer(ctx context.Context, c *cli.Call) error {
	if err := c.NoArgs(); err != nil {
		return err
	}
	// stdout carries the protocol: anything else the process prints goes to stderr.
	if c.Stdout == os.Stdout {
		os.Stdout = os.Stderr
	}
	var shift time.Duration
	if v := os.Getenv(peer.ClockShiftEnv); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return cli.Usage("%s=%q: %v", peer.ClockShiftEnv, v, err)
		}
		shift = d
	}
	err := peer.ServePeerShifted(ctx, os.Stdin, c.Stdout, experiments.Lookup, shift)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
