package capture

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestBarrier(t *testing.T) {
	t.Parallel()
	base := time.Now()
	isClosed := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	var b barrier
	assert.False(t, b.active())
	b.reach(base) // no waiter: nothing to do
	early, late, gone := b.add(base), b.add(base.Add(time.Second)), b.add(base.Add(2*time.Second))
	assert.True(t, b.active())
	b.remove(gone)
	assert.Equal(t, int32(2), b.pending.Load())

	tests := []struct {
		name             string
		reach            time.Time
		wantEarly, wantL bool
	}{
		{"before every moment", base.Add(-time.Millisecond), false, false},
		{"at the first moment", base, true, false},
		{"past the second", base.Add(1500 * time.Millisecond), true, true},
	}
	for _, tt := range tests {
		b.reach(tt.reach)
		assert.Equal(t, tt.wantEarly, isClosed(early), tt.name)
		assert.Equal(t, tt.wantL, isClosed(late), tt.name)
	}
	assert.False(t, b.active())
	assert.False(t, isClosed(gone), "a removed wait is never released")
}
