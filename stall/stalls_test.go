package stall

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestStalls(t *testing.T) {
	t.Parallel()
	s := Stalls{{From: 10 * time.Millisecond, To: 20 * time.Millisecond}, {From: 30 * time.Millisecond, To: 35 * time.Millisecond}}
	for _, tc := range []struct{ from, to, want time.Duration }{
		{0, 100 * time.Millisecond, 15 * time.Millisecond},
		{15 * time.Millisecond, 32 * time.Millisecond, 7 * time.Millisecond},
		{20 * time.Millisecond, 30 * time.Millisecond, 0},
		{40 * time.Millisecond, 50 * time.Millisecond, 0},
	} {
		assert.Equal(t, tc.want, s.Within(tc.from, tc.to), "within %v-%v", tc.from, tc.to)
	}
	assert.Zero(t, Stalls(nil).Within(0, time.Hour))
	assert.Equal(t, "2 stalls: 10.0ms at 10.0ms, 5.0ms at 30.0ms", s.String())
	assert.Equal(t, "1 stall: 33.9ms at -0.3ms", Stalls{{From: -300 * time.Microsecond, To: 33600 * time.Microsecond}}.String())
	assert.Equal(t, 10*time.Millisecond, s.Longest())
}
