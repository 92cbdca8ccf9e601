package traffictest

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestEvery: f runs again and again until stop, never after it; a second stop is harmless.
func TestEvery(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	calls := 0
	stop := Every(t, time.Millisecond, func() {
		mu.Lock()
		calls++
		mu.Unlock()
	})
	assert.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return calls >= 3
	}, 5*time.Second, time.Millisecond)
	stop()
	mu.Lock()
	after := calls
	mu.Unlock()
	time.Sleep(10 * time.Millisecond)
	mu.Lock()
	assert.Equal(t, after, calls, "no call after stop returned")
	mu.Unlock()
	stop()
}
