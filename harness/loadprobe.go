package harness

import "time"

// loadProbe measures when the Go runtime fires timers late while a trial runs. kcp-go's ACKs,
// retransmissions and read deadlines ride on timers: while the process does not run (an overloaded or
// paused machine), every timer due is delayed, and so is the segment it sends. The probe records those
// stalls so that timing checks can tell them from KCP's own behaviour (see Stalls).
type loadProbe struct {
	stop chan struct{}
	done chan []stallAt
}

// stallAt is one stall in wall-clock time: a probe tick due at from fired at to.
type stallAt struct{ from, to time.Time }

const (
	probePeriod = 10 * time.Millisecond
	// stallMin is the smallest lateness recorded as a stall: scheduling jitter below it is normal on a
	// busy machine and stays inside every timing tolerance (4 ms at least).
	stallMin = 2 * time.Millisecond
	// maxStalls bounds what one trial records.
	maxStalls = 1024
)

func startLoadProbe() *loadProbe {
	p := &loadProbe{stop: make(chan struct{}), done: make(chan []stallAt, 1)}
	go func() {
		var stalls []stallAt
		t := time.NewTicker(probePeriod)
		defer t.Stop()
		prev := time.Now()
		for {
			select {
			case <-t.C:
				now := time.Now()
				if due := prev.Add(probePeriod); now.Sub(due) > stallMin && len(stalls) < maxStalls {
					stalls = append(stalls, stallAt{from: due, to: now})
				}
				prev = now
			case <-p.stop:
				p.done <- stalls
				return
			}
		}
	}()
	return p
}

// Stop ends the probe and returns the stalls it saw.
func (p *loadProbe) Stop() []stallAt {
	close(p.stop)
	return <-p.done
}
