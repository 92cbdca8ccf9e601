package traffictest

import (
	"sync"
	"testing"
	"time"
)

// Every calls f every period, in a goroutine of its own, until the returned stop is called or the test
// ends. stop waits for a call in progress to return, and may be called more than once.
func Every(tb testing.TB, period time.Duration, f func()) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(period)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				f()
			}
		}
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			close(done)
			wg.Wait()
		})
	}
	tb.Cleanup(stop)
	return stop
}
