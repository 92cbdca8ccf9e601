package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"os/signal"

	"kcplab/experiments"
	"kcplab/peer"
)

// runPeer serves the peer protocol (peer/peer.go) on stdin and stdout: `kcplab matrix -pairs`
// runs one per kcp-go release and drives trials whose server and client run in different ones.
func runPeer(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	if _, err := parse(fs, args); err != nil {
		return err
	}
	// stdout carries the protocol: anything else the process prints goes to stderr.
	if stdout == os.Stdout {
		os.Stdout = os.Stderr
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := peer.ServePeer(ctx, os.Stdin, stdout, experiments.Lookup)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
