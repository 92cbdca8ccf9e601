package harness

import (
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// TestLoadProbeSeesBusyCPUs keeps every P busy for 100 ms: goroutines woken by a timer or a datagram
// then wait for a CPU, and the probe must record it, within the use's lifetime.
func TestLoadProbeSeesBusyCPUs(t *testing.T) {
	u := startLoadProbe()
	var wg sync.WaitGroup
	for range 2 * runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for start := time.Now(); time.Since(start) < 100*time.Millisecond; {
			}
		}()
	}
	wg.Wait()
	stalls := u.Stop()
	require.NotEmpty(t, stalls, "no stall recorded while every P was busy for 100 ms")
	for _, st := range stalls {
		assert.True(t, st.to.After(u.start), "stall %v-%v ended before the use began", st.from, st.to)
		assert.Greater(t, st.to.Sub(st.from), stallMin)
	}
	goleak.VerifyNone(t, ignoreKCPScheduler...)
}

// TestLoadProbeShared: trials running at once share one probe; each gets the stalls that overlap its
// own lifetime, and the probe stops when the last one stops.
func TestLoadProbeShared(t *testing.T) {
	u1, u2 := startLoadProbe(), startLoadProbe()
	sharedProbe.mu.Lock()
	u2.start = u1.start.Add(10 * time.Millisecond)
	sharedProbe.mu.Unlock()
	early := stallAt{u1.start.Add(time.Millisecond), u1.start.Add(5 * time.Millisecond)} // before u2 began
	both := stallAt{u1.start.Add(11 * time.Millisecond), u1.start.Add(15 * time.Millisecond)}
	sharedProbe.record(early.from, early.to)
	sharedProbe.record(both.from, both.to)

	s1 := u1.Stop()
	assert.Contains(t, s1, early)
	assert.Contains(t, s1, both)
	s2 := u2.Stop()
	assert.NotContains(t, s2, early)
	assert.Contains(t, s2, both)

	sharedProbe.mu.Lock()
	assert.Empty(t, sharedProbe.users)
	assert.Empty(t, sharedProbe.stalls)
	sharedProbe.mu.Unlock()
	goleak.VerifyNone(t, ignoreKCPScheduler...)

	u3 := startLoadProbe() // starts again after a stop
	assert.NotContains(t, u3.Stop(), both)
}

// TestNewStallsMerges: the probe's timer and its ping can report one stall twice; a trace keeps it once.
func TestNewStallsMerges(t *testing.T) {
	t0 := time.Now()
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	s := newStalls(t0, []stallAt{{at(99), at(161)}, {at(300), at(305)}, {at(100), at(160)}, {at(150), at(170)}})
	assert.Equal(t, Stalls{{From: 99 * time.Millisecond, To: 170 * time.Millisecond}, {From: 300 * time.Millisecond, To: 305 * time.Millisecond}}, s)
	assert.Equal(t, 71*time.Millisecond, s.Longest())
	assert.Equal(t, 71*time.Millisecond, s.Within(0, 200*time.Millisecond), "counted once")
}
