package capture

import (
	"context"
	"errors"
	"net"
	"time"

	"kcplab/internal/dir"
)

// Source is a capture running during one trial.
type Source interface {
	// Wrap returns the conn that kcp-go should use for a socket of the given side (the tap wraps it and
	// records; live capture returns conn unchanged and only remembers which side owns that local port).
	Wrap(conn net.PacketConn, side dir.Dir) net.PacketConn
	// Datagrams returns what has been captured so far, in wire order (by Time).
	Datagrams() []Datagram
	// Notify returns a channel that receives (non-blocking, capacity 1) whenever a new datagram is recorded,
	// so callers can wait for traffic without polling.
	Notify() <-chan struct{}
	// Close stops capturing (idempotent) and returns its statistics.
	Close() (Stats, error)
}

// Stats are a capture's counters.
type Stats struct {
	Captured  int // datagrams recorded
	Dropped   int // libpcap's PacketsDropped for live capture; 0 for the tap
	IfDropped int // libpcap's PacketsIfDropped for live capture; 0 for the tap
	Received  int // libpcap's PacketsReceived for live capture (on lo each datagram counts twice, sent and received); 0 for the tap
}

// ErrNeverQuiet is WaitQuiet's error when the context ended before the silence it waited for.
var ErrNeverQuiet = errors.New("the wire never went quiet before the deadline")

// WaitQuiet returns once notify (a Source's Notify) has been silent for quiet and held, when not nil,
// reports nothing in flight (a simulated link keeps a delayed datagram silent until it is due). It
// returns ErrNeverQuiet when ctx ends first.
func WaitQuiet(ctx context.Context, notify <-chan struct{}, quiet time.Duration, held func() bool) error {
	silence := time.NewTimer(quiet)
	defer silence.Stop()
	for {
		select {
		case <-notify:
			silence.Reset(quiet)
		case <-silence.C:
			if held == nil || !held() {
				return nil
			}
			silence.Reset(quiet)
		case <-ctx.Done():
			return ErrNeverQuiet
		}
	}
}
