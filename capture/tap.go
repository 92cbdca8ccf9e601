package capture

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"kcplab/internal/dir"
	"kcplab/internal/sockopt"
)

// TapSource is the in-process capture of one trial: it wraps the conns of the
// trial's endpoints (see Wrap) and records every datagram they send or receive,
// each wire datagram once. It implements Source and is safe for concurrent use.
type TapSource struct {
	rec    *recorder
	wrapMu sync.Mutex                 // serialises Wrap's copy-on-write of locals
	locals atomic.Pointer[localTable] // read on every received datagram
}

var _ Source = (*TapSource)(nil)

// localTable holds the local addresses of the wrapped conns (bound to a
// specific address, as kcplab's loopback sockets are). It is immutable once
// published; Wrap publishes a new copy.
type localTable struct {
	exact map[netip.AddrPort]dir.Dir
}

// NewTap returns an empty TapSource for one trial.
func NewTap() *TapSource {
	s := &TapSource{rec: newRecorder()}
	s.locals.Store(&localTable{exact: map[netip.AddrPort]dir.Dir{}})
	return s
}

// Wrap returns conn wrapped in a *Tap that records for this source; the
// datagrams it sends are attributed to side. A nil conn returns nil.
func (s *TapSource) Wrap(conn net.PacketConn, side dir.Dir) net.PacketConn {
	t := s.WrapTap(conn, side)
	if t == nil {
		return nil
	}
	return t
}

// WrapTap is Wrap returning the concrete *Tap, whose counters callers can read.
// A nil conn returns nil.
func (s *TapSource) WrapTap(conn net.PacketConn, side dir.Dir) *Tap {
	if conn == nil {
		return nil
	}
	local, _ := addrPortOf(conn.LocalAddr())
	t := &Tap{Forward: sockopt.NewForward(conn, "capture: tap"), src: s, side: side, local: local}
	if local.IsValid() {
		s.addLocal(local, side)
	}
	return t
}

// addLocal publishes a copy of the local table with local added.
func (s *TapSource) addLocal(local netip.AddrPort, side dir.Dir) {
	s.wrapMu.Lock()
	defer s.wrapMu.Unlock()
	old := s.locals.Load()
	next := &localTable{exact: make(map[netip.AddrPort]dir.Dir, len(old.exact)+1)}
	for k, v := range old.exact {
		next.exact[k] = v
	}
	next.exact[local] = side
	s.locals.Store(next)
}

// wrapped reports whether from is the local address of a conn wrapped by s.
func (s *TapSource) wrapped(from netip.AddrPort) bool {
	_, ok := s.locals.Load().exact[from]
	return ok
}

// Datagrams returns what has been captured so far, in wire order (by Time).
// The payloads are shared with the source and must not be modified.
func (s *TapSource) Datagrams() []Datagram { return s.rec.snapshot() }

// Notify returns a channel that receives (non-blocking, capacity 1) whenever a
// new datagram is recorded.
func (s *TapSource) Notify() <-chan struct{} { return s.rec.notify }

// Close stops recording (the wrapped conns keep working and stay open) and
// returns the number of datagrams captured. It is idempotent and never fails.
func (s *TapSource) Close() (Stats, error) {
	s.rec.close()
	return Stats{Captured: s.rec.len()}, nil
}
