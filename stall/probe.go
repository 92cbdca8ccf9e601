// Package stall measures when the process could not run promptly (a load probe shared by every trial
// running at once) and says how long it stalled within a span of a trial's time (Stalls).
package stall

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"
)

// The load probe measures when the process could not run promptly while trials ran. kcp-go's ACKs,
// retransmissions and read deadlines ride on Go timers, and its sessions react to datagrams from a
// goroutine blocked on a socket: while the process does not run (an overloaded or paused machine), or
// its goroutines wait for a CPU, every timer due and every datagram received waits too, and so does the
// segment it sends. The probe records those stalls so that timing checks can tell them from KCP's own
// behaviour (see Stalls). It measures both ways a session waits:
//   - a 1 ms timer: how late it fires;
//   - a ping, sent at every tick over a Unix datagram socket pair to a goroutine blocked on it (through
//     Go's netpoller, the way kcp-go reads its UDP socket, but invisible to any capture): how long the
//     datagram waited before that goroutine had it (under load this can be several milliseconds while
//     timers fire on time).
//
// One probe serves every trial of the process that runs at the same time; it runs only while one does.
var shared probe

type probe struct {
	mu     sync.Mutex
	users  map[*Use]struct{}
	stalls []Span
	stop   chan struct{}   // closed to stop the running probe
	wg     *sync.WaitGroup // the running probe's goroutines
}

// Use is one trial's use of the shared probe, from its start.
type Use struct{ start time.Time }

// Span is one stall in wall-clock time: a probe tick due at From fired at To, or a ping sent at From
// was read at To.
type Span struct{ From, To time.Time }

const (
	probePeriod = time.Millisecond
	// stallMin is the smallest lateness recorded as a stall: scheduling jitter below it is normal on a
	// busy machine and stays inside every timing tolerance (4 ms at least).
	stallMin = 2 * time.Millisecond
	// maxStalls bounds what the probe keeps for the trials running at once.
	maxStalls = 4096
)

// Watch starts the trial's use of the probe, starting the probe if no other trial runs.
func Watch() *Use {
	p := &shared
	u := &Use{start: time.Now()}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.users) == 0 {
		p.users = map[*Use]struct{}{}
		p.stop, p.wg = make(chan struct{}), &sync.WaitGroup{}
		p.run()
	}
	p.users[u] = struct{}{}
	return u
}

// Stop ends the trial's use of the probe and returns the stalls that overlap the trial. The last trial
// to stop stops the probe and waits for its goroutines.
func (u *Use) Stop() []Span {
	p := &shared
	p.mu.Lock()
	var mine []Span
	for _, st := range p.stalls {
		if st.To.After(u.start) {
			mine = append(mine, st)
		}
	}
	delete(p.users, u)
	var wg *sync.WaitGroup
	if len(p.users) == 0 {
		close(p.stop)
		wg, p.stalls = p.wg, nil
	} else {
		p.prune()
	}
	p.mu.Unlock()
	if wg != nil {
		wg.Wait() // under no lock: the probe's goroutines take it to record
	}
	return mine
}

// prune drops the stalls that ended before every running trial started.
func (p *probe) prune() {
	oldest := time.Time{}
	for u := range p.users {
		if oldest.IsZero() || u.start.Before(oldest) {
			oldest = u.start
		}
	}
	kept := p.stalls[:0]
	for _, st := range p.stalls {
		if st.To.After(oldest) {
			kept = append(kept, st)
		}
	}
	p.stalls = kept
}

// Totals is how long the probe has seen the process stalled since the program started, by each of
// its measurements: one freeze is seen by both, so the larger of the two says how long the process
// stalled, and its growth over a span of time how loaded the process was in it.
type Totals struct {
	Timer, Ping time.Duration
}

// totals are the probe's running sums (Totals), in nanoseconds.
var totals struct{ timer, ping atomic.Int64 }

// Stalled returns the probe's running sums of stalled time. They grow only while a trial runs (the
// probe runs only then).
func Stalled() Totals {
	return Totals{Timer: time.Duration(totals.timer.Load()), Ping: time.Duration(totals.ping.Load())}
}

// Max is the larger of the two: how long the process stalled, each freeze counted once.
func (t Totals) Max() time.Duration { return max(t.Timer, t.Ping) }

// Sub returns the stalled time seen since an earlier reading u.
func (t Totals) Sub(u Totals) Totals { return Totals{Timer: t.Timer - u.Timer, Ping: t.Ping - u.Ping} }

func (p *probe) record(from, to time.Time, sum *atomic.Int64) {
	sum.Add(int64(to.Sub(from)))
	p.mu.Lock()
	if len(p.stalls) < maxStalls {
		p.stalls = append(p.stalls, Span{From: from, To: to})
	}
	p.mu.Unlock()
}

// run starts the probe's goroutines; they end when p.stop is closed. Without a socket pair the probe
// measures timers only.
func (p *probe) run() {
	stop, wg := p.stop, p.wg
	tx, rx := pingPair()
	base := time.Now()
	var inFlight atomic.Bool
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(probePeriod)
		defer t.Stop()
		var ping [8]byte
		prev := time.Now()
		for {
			select {
			case <-t.C:
				now := time.Now()
				if due := prev.Add(probePeriod); now.Sub(due) > stallMin {
					p.record(due, now, &totals.timer)
				}
				prev = now
				// One ping in flight at most: the sender never queues behind a slow reader (or blocks on a
				// full socket), and a ping still unread keeps measuring the reader's wait.
				if tx != nil && inFlight.CompareAndSwap(false, true) {
					binary.LittleEndian.PutUint64(ping[:], uint64(now.Sub(base)))
					if _, err := tx.Write(ping[:]); err != nil {
						inFlight.Store(false)
					}
				}
			case <-stop:
				if tx != nil {
					tx.Close()
					rx.Close() // ends the reader's Read
				}
				return
			}
		}
	}()
	if tx == nil {
		return
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		var buf [64]byte
		for {
			n, err := rx.Read(buf[:])
			if err != nil {
				return
			}
			if n != 8 {
				continue
			}
			now := time.Now()
			sent := base.Add(time.Duration(binary.LittleEndian.Uint64(buf[:n])))
			inFlight.Store(false)
			if now.Sub(sent) > stallMin {
				p.record(sent, now, &totals.ping)
			}
		}
	}()
}
