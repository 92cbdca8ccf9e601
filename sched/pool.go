package sched

import (
	"context"
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"kcplab/harness"
)

// pool is the one bound on trials in flight that every job of a Run shares: a slot per trial, granted
// to the waiting trial of the highest-ranked job (the longest estimate first), the bound adapted to
// the load (adapt), and every trial start across jobs paced (Start).
type pool struct {
	mu           sync.Mutex
	limit, floor int // the bound's ceiling and floor
	bound        int // the bound now: floor ≤ bound ≤ limit
	inFlight     int
	waiters      []*waiter // in grant order: rank, then arrival
	arrivals     int
	running      map[*Slots]struct{} // jobs started and not ended
	sideBySide   bool
	pace         *rate.Limiter // nil: no pacing across jobs
	// slotTime is the integral of inFlight over time up to last, for the jobs' mean in flight.
	slotTime time.Duration
	last     time.Time
	changed  chan struct{} // slots or waiters changed: Run looks again whether it may admit a job
}

// waiter is a trial waiting for a slot.
type waiter struct {
	rank, arrival int
	ready         chan struct{} // closed when granted
	granted       bool
}

func newPool(cfg Config) *pool {
	p := &pool{limit: cfg.Limit, floor: min(max(cfg.Floor, 1), cfg.Limit), bound: cfg.Limit,
		running: map[*Slots]struct{}{}, sideBySide: !cfg.Sequential, last: time.Now(), changed: make(chan struct{}, 1)}
	if cfg.Spacing > 0 {
		p.pace = rate.NewLimiter(rate.Every(cfg.Spacing), 1)
	}
	return p
}

// Slots is one job's hand on the shared bound: it implements harness.Slots for the job's run, and
// measures the concurrency the job ran under.
type Slots struct {
	p    *pool
	rank int
	// What the job saw from its start to its end; under p.mu.
	asked                 bool // the job asked for its first slot (Run then may admit the next job)
	started               time.Time
	slotTimeAtStart       time.Duration
	inFlightMax, boundMin int
	sideBySide            int
	ended                 bool
	endedAt               time.Time
	slotTimeAtEnd         time.Duration
}

var _ harness.Slots = (*Slots)(nil)

// start registers a job as running.
func (p *pool) start(rank int) *Slots {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.account()
	s := &Slots{p: p, rank: rank, started: p.last, slotTimeAtStart: p.slotTime, inFlightMax: p.inFlight, boundMin: p.bound}
	p.running[s] = struct{}{}
	for o := range p.running {
		o.sideBySide = max(o.sideBySide, len(p.running))
	}
	return s
}

// end removes a job from the running ones, freezing its measures.
func (p *pool) end(s *Slots) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.account()
	s.ended, s.endedAt, s.slotTimeAtEnd = true, p.last, p.slotTime
	delete(p.running, s)
	p.notify()
}

// account adds the time since the last change at the current inFlight to the integral; under p.mu.
func (p *pool) account() {
	now := time.Now()
	p.slotTime += time.Duration(p.inFlight) * now.Sub(p.last)
	p.last = now
}

// notify wakes Run's admission without blocking; under p.mu.
func (p *pool) notify() {
	select {
	case p.changed <- struct{}{}:
	default:
	}
}

// take counts one more trial in flight; under p.mu.
func (p *pool) take() {
	p.account()
	p.inFlight++
	for s := range p.running {
		s.inFlightMax = max(s.inFlightMax, p.inFlight)
	}
}

// grant hands free slots to the waiters, best rank first; under p.mu.
func (p *pool) grant() {
	for p.inFlight < p.bound && len(p.waiters) > 0 {
		w := p.waiters[0]
		p.waiters = p.waiters[1:]
		w.granted = true
		p.take()
		close(w.ready)
	}
}

// Acquire waits for a free slot (harness.Slots). A slot that comes free goes to the waiting trial of
// the job with the longest estimate; within a job, to the one that waited longest.
func (s *Slots) Acquire(ctx context.Context) error {
	p := s.p
	p.mu.Lock()
	if !s.asked {
		s.asked = true
		p.notify()
	}
	if p.inFlight < p.bound && len(p.waiters) == 0 {
		p.take()
		p.mu.Unlock()
		return nil
	}
	p.arrivals++
	w := &waiter{rank: s.rank, arrival: p.arrivals, ready: make(chan struct{})}
	i, _ := slices.BinarySearchFunc(p.waiters, w, func(a, b *waiter) int {
		if a.rank != b.rank {
			return a.rank - b.rank
		}
		return a.arrival - b.arrival
	})
	p.waiters = slices.Insert(p.waiters, i, w)
	p.notify()
	p.mu.Unlock()
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		p.mu.Lock()
		defer p.mu.Unlock()
		if w.granted { // granted as the context ended: give it back
			p.release()
		} else {
			p.waiters = slices.DeleteFunc(p.waiters, func(o *waiter) bool { return o == w })
		}
		return ctx.Err()
	}
}

// Start waits until a trial may start: the starts of every job are paced by the pool's spacing
// (harness.Slots), after each run's own stagger.
func (s *Slots) Start(ctx context.Context) error {
	if s.p.pace == nil {
		return ctx.Err()
	}
	return s.p.pace.Wait(ctx)
}

// Release gives back a slot that Acquire took (harness.Slots).
func (s *Slots) Release() {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	s.p.release()
}

// SlotTime is the integral over time of every job's trials in flight, up to now (harness.Slots).
func (s *Slots) SlotTime() (time.Duration, time.Time) {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	s.p.account()
	return s.p.slotTime, s.p.last
}

// release frees a slot and grants it; under p.mu.
func (p *pool) release() {
	p.account()
	p.inFlight--
	p.grant()
	p.notify()
}

// Concurrency is what the job has run under from its start until now (or its end): every job's
// trials in flight, the bound, and the jobs side by side.
func (s *Slots) Concurrency() harness.Concurrency {
	p := s.p
	p.mu.Lock()
	defer p.mu.Unlock()
	end, slotTime := s.endedAt, s.slotTimeAtEnd
	if !s.ended {
		p.account()
		end, slotTime = p.last, p.slotTime
	}
	c := harness.Concurrency{SideBySide: p.sideBySide, InFlightLimit: p.limit, LimitMin: s.boundMin,
		InFlightMax: s.inFlightMax, ExperimentsSideBySide: s.sideBySide}
	if d := end.Sub(s.started); d > 0 {
		c.InFlightMean = float64(slotTime-s.slotTimeAtStart) / float64(d)
	}
	return c
}

// canAdmit reports whether Run may start another job: none runs, or, side by side, every running job
// has asked for its first slot, none waits for one, and a slot is free.
func (p *pool) canAdmit() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.running) == 0 {
		return true
	}
	if !p.sideBySide || len(p.waiters) > 0 || p.inFlight >= p.bound {
		return false
	}
	for s := range p.running {
		if !s.asked {
			return false
		}
	}
	return true
}

// adapt moves the bound by the load of the last window: the process stalled for stalled of it. Above
// the high share the bound drops by a quarter (at least 1), down to the floor; below the low share it
// rises by a sixteenth of the ceiling (at least 1), up to the ceiling; in between it stays. It returns
// the new bound.
func (p *pool) adapt(a Adapt, stalled, window time.Duration) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if window <= 0 {
		return p.bound
	}
	switch share := float64(stalled) / float64(window); {
	case share > a.High:
		p.bound = max(p.floor, p.bound-max(1, p.bound/4))
	case share < a.Low:
		p.bound = min(p.limit, p.bound+max(1, p.limit/16))
	}
	for s := range p.running {
		s.boundMin = min(s.boundMin, p.bound)
	}
	p.grant()
	p.notify()
	return p.bound
}
