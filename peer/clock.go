package peer

import (
	"context"
	"fmt"
	"time"
)

// ClockShiftEnv, set to a Go duration ("250ms", "-1.5s"), makes `kcplab peer` report every time
// shifted by it (ServePeerShifted): a peer whose clock is off by a known amount, for tests of the
// coordinator's clock estimate.
const ClockShiftEnv = "KCPLAB_PEER_CLOCK_SHIFT"

// ClockSamples is how many clock round trips MeasureClock makes.
const ClockSamples = 8

// Clock is a peer's clock as the coordinator estimated it from the protocol's round trips (the
// "clock" request), NTP's way: the coordinator sends at t0, the peer stamps t1, the reply arrives at
// t2; the offset is t1 - (t0+t2)/2, within ± (t2-t0)/2, from the sample with the shortest round trip.
type Clock struct {
	Offset      time.Duration // the peer's clock minus the coordinator's
	Uncertainty time.Duration // the true offset is within Offset ± Uncertainty
	Samples     int           // round trips measured; 0: the peer does not answer "clock" (not measured)
}

// Correction is what is subtracted from the peer's times to put them on the coordinator's clock: the
// offset, or 0 when 0 is within the uncertainty (the clocks cannot be told apart, as on one machine,
// and the peer's own times are then as good as any correction).
func (c Clock) Correction() time.Duration {
	if c.Offset > c.Uncertainty || c.Offset < -c.Uncertainty {
		return c.Offset
	}
	return 0
}

// String says the estimate in words, e.g. "offset +250.012 ms ± 0.041 ms (8 round trips)".
func (c Clock) String() string {
	if c.Samples == 0 {
		return "clock not measured (the peer does not answer clock requests)"
	}
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	return fmt.Sprintf("offset %+.3f ms ± %.3f ms (%d round trips)", ms(c.Offset), ms(c.Uncertainty), c.Samples)
}

// Clock returns the last estimate MeasureClock made (a zero Clock before it did).
func (p *Peer) Clock() Clock {
	p.clockMu.Lock()
	defer p.clockMu.Unlock()
	return p.clock
}

// MeasureClock estimates the peer's clock offset from n round trips (ClockSamples when n <= 0), keeps
// it for Clock and Correction of the peer's times in pair trials, and returns it. A peer that answers
// the request with an error (one that does not know the op) is not measured: its Clock has no
// samples and no correction. A peer that does not answer at all is an error.
func (p *Peer) MeasureClock(ctx context.Context, n int) (Clock, error) {
	if n <= 0 {
		n = ClockSamples
	}
	var best Clock
	for i := range n {
		id := pairTrialIDs.Add(1)
		t0 := time.Now()
		m, err := p.Call(ctx, PeerMsg{Op: "clock", Trial: id})
		t2 := time.Now()
		p.forget(id)
		if err != nil {
			if m.Op == "error" {
				best = Clock{}
				break
			}
			return Clock{}, fmt.Errorf("peer %s: clock: %w", p.Name(), err)
		}
		half := t2.Sub(t0) / 2
		off := time.Duration(m.NowNs - (t0.UnixNano() + half.Nanoseconds()))
		if i == 0 || half < best.Uncertainty {
			best = Clock{Offset: off, Uncertainty: half}
		}
		best.Samples = i + 1
	}
	p.clockMu.Lock()
	p.clock = best
	p.clockMu.Unlock()
	return best, nil
}

// shiftTimes returns m with every time in it moved by d (its records copied, not changed in place).
func shiftTimes(m PeerMsg, d time.Duration) PeerMsg {
	if d == 0 {
		return m
	}
	ns := d.Nanoseconds()
	if m.StartNs != 0 {
		m.StartNs += ns
	}
	if m.NowNs != 0 {
		m.NowNs += ns
	}
	m.Datagrams = mapped(m.Datagrams, func(x PeerDatagram) PeerDatagram { x.TNs += ns; return x })
	m.Events = mapped(m.Events, func(x PeerEvent) PeerEvent { x.TNs += ns; return x })
	m.Stalls = mapped(m.Stalls, func(x PeerStall) PeerStall { return PeerStall{FromNs: x.FromNs + ns, ToNs: x.ToNs + ns} })
	return m
}

// mapped returns a copy of xs with f applied to each, nil for nil.
func mapped[T any](xs []T, f func(T) T) []T {
	if xs == nil {
		return nil
	}
	out := make([]T, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	return out
}
