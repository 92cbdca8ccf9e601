package harness

import "time"

// loadProbe measures how late the Go runtime fires timers while a trial runs. kcp-go's ACK and
// retransmission timing rides on timers, so a trial on an overloaded machine can miss a ladder's timing
// for reasons that have nothing to do with KCP; the probe lets a failure say so.
type loadProbe struct {
	stop chan struct{}
	done chan time.Duration
}

const probePeriod = 10 * time.Millisecond

func startLoadProbe() *loadProbe {
	p := &loadProbe{stop: make(chan struct{}), done: make(chan time.Duration, 1)}
	go func() {
		var worst time.Duration
		t := time.NewTicker(probePeriod)
		defer t.Stop()
		prev := time.Now()
		for {
			select {
			case now := <-t.C:
				if late := time.Since(prev) - probePeriod; late > worst {
					worst = late
				}
				prev = now
			case <-p.stop:
				p.done <- worst
				return
			}
		}
	}()
	return p
}

// Stop ends the probe and returns the worst lateness it saw.
func (p *loadProbe) Stop() time.Duration {
	close(p.stop)
	return <-p.done
}
