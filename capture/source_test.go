package capture

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestWaitQuiet: silence ends the wait; each datagram restarts the quiet period; what a link holds
// keeps it waiting; a context that ends first is ErrNeverQuiet. The bounds asserted are lower ones,
// which a loaded machine only lengthens.
func TestWaitQuiet(t *testing.T) {
	t.Parallel()
	const quiet = 20 * time.Millisecond
	for _, tc := range []struct {
		name    string
		pings   int // datagrams, one every quiet/2 from the start
		held    int // silences through which the link still holds a datagram (-1: for ever)
		wantErr error
	}{
		{"silence", 0, 0, nil},
		{"traffic, then silence", 4, 0, nil},
		{"a datagram held through two silences", 0, 2, nil},
		{"a datagram held for ever", 0, -1, ErrNeverQuiet},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			notify := make(chan struct{}) // unbuffered: a send completes only when WaitQuiet took it
			stop := make(chan struct{})
			lastTaken := make(chan time.Time, 1)
			go func() {
				var last time.Time
				defer func() { lastTaken <- last }()
				for range tc.pings {
					select {
					case <-stop:
						return
					case <-time.After(quiet / 2):
					}
					sent := time.Now()
					select {
					case <-stop:
						return
					case notify <- struct{}{}:
						last = sent
					}
				}
			}()
			asked := 0
			held := func() bool { asked++; return tc.held < 0 || asked <= tc.held }
			ctx, cancel := context.WithTimeout(context.Background(), 20*quiet)
			defer cancel()
			start := time.Now()
			err := WaitQuiet(ctx, notify, quiet, held)
			returned := time.Now()
			close(stop)
			last := <-lastTaken
			assert.ErrorIs(t, err, tc.wantErr)
			if tc.wantErr != nil {
				return
			}
			if !last.IsZero() {
				assert.GreaterOrEqual(t, returned.Sub(last), quiet, "returned before a quiet period after the last datagram")
			}
			assert.Equal(t, tc.held+1, asked, "held is asked at each silence, until it holds nothing")
			assert.GreaterOrEqual(t, returned.Sub(start), time.Duration(tc.held+1)*quiet, "each silence lasts quiet")
		})
	}
}
