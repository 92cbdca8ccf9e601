package capture

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"kcplab/internal/dir"
)

// hubSource is one trial's capture on a Hub: the datagrams to or from its
// ports captured while it is open.
type hubSource struct {
	hub       *Hub
	ports     []uint16 // sorted, unique, not empty
	opened    time.Time
	base      pcapCounters // libpcap's counters when opened
	sides     portSides
	rec       *recorder
	truncated atomic.Int64 // datagrams cut short by the snap length

	closeOnce sync.Once
	stats     Stats
	closeErr  error
}

var _ Source = (*hubSource)(nil)

// record stores a copy of d unless it was captured before the Source opened
// (a datagram of an earlier trial that used the same port) or after Close. It
// reports whether d was kept. Called by the Hub's reader only.
func (s *hubSource) record(dg Datagram, truncated bool) bool {
	if dg.Time.Before(s.opened) {
		return false
	}
	dg.Side = s.sides.side(dg.Src.Port())
	if !s.rec.add(dg, true) {
		return false
	}
	if truncated {
		s.truncated.Add(1)
	}
	return true
}

// Wrap returns conn unchanged and remembers that its local port belongs to side.
func (s *hubSource) Wrap(conn net.PacketConn, side dir.Dir) net.PacketConn {
	s.sides.set(conn, side)
	return conn
}

// Datagrams returns what has been captured so far, in wire order (by Time).
// A datagram captured before Wrap registered its source port gets its Side now.
func (s *hubSource) Datagrams() []Datagram {
	dgs := s.rec.snapshot()
	for i := range dgs {
		if dgs[i].Side == dir.Unknown {
			dgs[i].Side = s.sides.side(dgs[i].Src.Port())
		}
	}
	return dgs
}

// Notify returns a channel that receives whenever a new datagram is recorded.
func (s *hubSource) Notify() <-chan struct{} { return s.rec.notify }

// Close ends the capture (idempotent): it waits for the Hub's reader to catch
// up with this moment, unregisters the ports and returns the Source's Stats
// (see Hub for the guarantee and the counters).
func (s *hubSource) Close() (Stats, error) {
	s.closeOnce.Do(func() {
		errCatch := s.hub.catchUp()
		s.hub.routes.remove(s)
		s.rec.close()
		end, errStats := s.hub.counters()
		grown := end.sub(s.base)
		if errStats != nil {
			grown = pcapCounters{}
		}
		s.stats = Stats{Captured: s.rec.len(), Received: grown.received, Dropped: grown.dropped, IfDropped: grown.ifDropped}
		var errTrunc error
		if n := s.truncated.Load(); n > 0 {
			errTrunc = fmt.Errorf("capture: hub: %d datagrams were longer than the snap length and are recorded cut short", n)
		}
		s.closeErr = errors.Join(errCatch, s.hub.readError(), errStats, errTrunc)
	})
	return s.stats, s.closeErr
}
