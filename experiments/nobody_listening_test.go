package experiments

import (
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lateConn is a session where nothing answers, on a machine that stalls: every Read returns a
// timeout late by its stall after its deadline, and Writes succeed until the send window is full.
type lateConn struct {
	net.Conn // nil: only the methods below are called
	stall    time.Duration

	mu           sync.Mutex
	readDeadline time.Time
	writes       int
	lastWrite    time.Time   // when the last Write that succeeded returned
	readsFrom    []time.Time // each Read's deadline
	wroteLast    []time.Time // lastWrite when each Read began
}

func (c *lateConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.readDeadline = t
	return nil
}

func (c *lateConn) SetWriteDeadline(time.Time) error { return nil }

func (c *lateConn) Read([]byte) (int, error) {
	c.mu.Lock()
	d := c.readDeadline
	c.readsFrom, c.wroteLast = append(c.readsFrom, d), append(c.wroteLast, c.lastWrite)
	c.mu.Unlock()
	<-time.After(time.Until(d) + c.stall) // the deadline, then the stall before the goroutine runs
	return 0, os.ErrDeadlineExceeded
}

func (c *lateConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.writes == sendWnd {
		return 0, os.ErrDeadlineExceeded // the window is full: the Write blocks until its deadline
	}
	c.writes++
	c.lastWrite = time.Now()
	return len(b), nil
}

func (c *lateConn) Close() error { return nil }

// TestNobodyLastReadWaitsFromTheLastWrite checks the premise of nobody-listening's Timing
// ReadTimeoutAfter: when a stall delays the first Read's return and so the Writes after it, the last
// Read still waits end-pastLimit from the last Write that succeeded, so the timing is never early.
func TestNobodyLastReadWaitsFromTheLastWrite(t *testing.T) {
	t.Parallel()
	const pastLimit, end, stall = 30 * time.Millisecond, 60 * time.Millisecond, 50 * time.Millisecond
	c := &lateConn{stall: stall}
	require.NoError(t, nobodyRole(c, pastLimit, end))
	require.Len(t, c.readsFrom, 2, "the Read to past the limit and the last Read")
	assert.Equal(t, sendWnd, c.writes)
	assert.GreaterOrEqual(t, c.readsFrom[1].Sub(c.wroteLast[1]), end-pastLimit,
		"the last Read's deadline, from the last Write that succeeded")
}
