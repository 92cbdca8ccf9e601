package stall

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
	before := Stalled()
	u := Watch()
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
	assert.Positive(t, Stalled().Sub(before).Max(), "the running sums did not grow with the stalls")
	for _, st := range stalls {
		assert.True(t, st.To.After(u.start), "stall %v-%v ended before the use began", st.From, st.To)
		assert.Greater(t, st.To.Sub(st.From), stallMin)
	}
	goleak.VerifyNone(t)
}

// TestLoadProbeShared: trials running at once share one probe; each gets the stalls that overlap its
// own lifetime, and the probe stops when the last one stops.
func TestLoadProbeShared(t *testing.T) {
	u1, u2 := Watch(), Watch()
	shared.mu.Lock()
	u2.start = u1.start.Add(10 * time.Millisecond)
	shared.mu.Unlock()
	early := Span{u1.start.Add(time.Millisecond), u1.start.Add(5 * time.Millisecond)} // before u2 began
	both := Span{u1.start.Add(11 * time.Millisecond), u1.start.Add(15 * time.Millisecond)}
	before := Stalled()
	shared.record(early.From, early.To, &totals.timer)
	shared.record(both.From, both.To, &totals.ping)
	grown := Stalled().Sub(before)
	assert.GreaterOrEqual(t, grown.Timer, early.To.Sub(early.From), "the timer's sum did not grow by its stall")
	assert.GreaterOrEqual(t, grown.Ping, both.To.Sub(both.From), "the ping's sum did not grow by its stall")

	s1 := u1.Stop()
	assert.Contains(t, s1, early)
	assert.Contains(t, s1, both)
	s2 := u2.Stop()
	assert.NotContains(t, s2, early)
	assert.Contains(t, s2, both)

	shared.mu.Lock()
	assert.Empty(t, shared.users)
	assert.Empty(t, shared.stalls)
	shared.mu.Unlock()
	goleak.VerifyNone(t)

	u3 := Watch() // starts again after a stop
	assert.NotContains(t, u3.Stop(), both)
}

// TestSinceMerges: the probe's timer and its ping can report one stall twice; a trace keeps it once.
func TestSinceMerges(t *testing.T) {
	t0 := time.Now()
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	s := Since(t0, []Span{{at(99), at(161)}, {at(300), at(305)}, {at(100), at(160)}, {at(150), at(170)}})
	assert.Equal(t, Stalls{{From: 99 * time.Millisecond, To: 170 * time.Millisecond}, {From: 300 * time.Millisecond, To: 305 * time.Millisecond}}, s)
	assert.Equal(t, 71*time.Millisecond, s.Longest())
	assert.Equal(t, 71*time.Millisecond, s.Within(0, 200*time.Millisecond), "counted once")
}
