package harness

import (
	"net"
	"net/netip"
	"sort"
	"time"

	"kcplab/internal/quantile"
	"kcplab/kcpwire"
)

// The queries experiments ask of a trace and of a run, so that a check or an answer reads as the
// question it asks: tr.Segs().Dir(C2S).Cmd(kcpwire.CmdPush).Sn(1) is every transmission of the
// client's second message, r.Quantile(c, m, 0.5) the median of a measure over a class's trials.

// Segs is a selection of a trial's segments, in time order; each method narrows it further.
type Segs []Seg

// Segs returns every segment of the trace, the link's dropped ones included (Seg.Dropped).
func (tr *Trace) Segs() Segs { return Segs(tr.Segments) }

// Where keeps the segments for which keep is true.
func (ss Segs) Where(keep func(Seg) bool) Segs {
	var out Segs
	for _, s := range ss {
		if keep(s) {
			out = append(out, s)
		}
	}
	return out
}

// Dir keeps the segments that travelled in direction d.
func (ss Segs) Dir(d Dir) Segs { return ss.Where(func(s Seg) bool { return s.Dir == d }) }

// Cmd keeps the segments of command c.
func (ss Segs) Cmd(c kcpwire.Cmd) Segs { return ss.Where(func(s Seg) bool { return s.Cmd == c }) }

// Sn keeps the segments with sequence number sn.
func (ss Segs) Sn(sn uint32) Segs { return ss.Where(func(s Seg) bool { return s.Sn == sn }) }

// OnWire keeps the segments that crossed the wire.
func (ss Segs) OnWire() Segs { return ss.Where(func(s Seg) bool { return s.Dropped == "" }) }

// DroppedByLink keeps the segments the link kept off the wire.
func (ss Segs) DroppedByLink() Segs { return ss.Where(func(s Seg) bool { return s.Dropped != "" }) }

// After keeps the segments sent later than t (since the trial's start).
func (ss Segs) After(t time.Duration) Segs { return ss.Where(func(s Seg) bool { return s.Time > t }) }

// First returns the earliest segment of the selection, and false when it is empty.
func (ss Segs) First() (Seg, bool) {
	if len(ss) == 0 {
		return Seg{}, false
	}
	return ss[0], true
}

// Times returns when each segment of the selection was sent, since the trial's start.
func (ss Segs) Times() []time.Duration {
	out := make([]time.Duration, len(ss))
	for i, s := range ss {
		out[i] = s.Time
	}
	return out
}

// EventAfter returns the first event matching to that follows the first event matching from, and
// false when there is none.
func (tr *Trace) EventAfter(from, to func(Event) bool) (Event, bool) {
	seen := false
	for _, e := range tr.Events {
		switch {
		case !seen && from(e):
			seen = true
		case seen && to(e):
			return e, true
		}
	}
	return Event{}, false
}

// ServerPeer returns the remote address of server#n, the n-th session the listener accepted (1-based):
// the client's address for a session of the trial's client, another one for a session a stray
// datagram made (Env.StraySocket). It reports false when no session n was accepted, or when the
// session ran in a peer process, whose protocol does not carry the address.
func (tr *Trace) ServerPeer(n int) (netip.AddrPort, bool) {
	for _, e := range tr.Events {
		if e.Side == Server && e.Kind == EvAccept && e.Session == n {
			return e.Peer, e.Peer.IsValid()
		}
	}
	return netip.AddrPort{}, false
}

// peerOf is a session's remote address as the trace compares addresses (Trace.Client, capture's
// datagrams): unmapped, so that an IPv4 address equals the trial's own; invalid when a is not UDP.
func peerOf(a net.Addr) netip.AddrPort {
	ua, ok := a.(*net.UDPAddr)
	if !ok || ua == nil {
		return netip.AddrPort{}
	}
	ap := ua.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// Values returns the values of measure m over the successful trials of class c that have one, in
// ascending order.
func (r *Result) Values(c Class, m Measure) []float64 {
	var vs []float64
	for _, t := range r.Of(c) {
		if t.Trace == nil {
			continue
		}
		if v, ok := m.Fn(t.Trace); ok {
			vs = append(vs, v)
		}
	}
	sort.Float64s(vs)
	return vs
}

// Quantile returns the q-quantile (0 ≤ q ≤ 1) of measure m over the trials of class c (quantile.Of
// its Values), and how many trials had a value; with none it returns 0, 0.
func (r *Result) Quantile(c Class, m Measure, q float64) (float64, int) {
	vs := r.Values(c, m)
	return quantile.Of(vs, q), len(vs)
}

// EventIs matches an application event by side and kind.
func EventIs(side Side, kind EventKind) func(Event) bool {
	return func(e Event) bool { return e.Side == side && e.Kind == kind }
}
