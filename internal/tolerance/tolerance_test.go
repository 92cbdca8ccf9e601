package tolerance

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestOf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		gap  time.Duration
		want time.Duration
	}{
		{"no gap: the floor", 0, 4 * time.Millisecond},
		{"10 ms: the floor", 10 * time.Millisecond, 4 * time.Millisecond},
		{"below 32 ms: the floor", 31 * time.Millisecond, 4 * time.Millisecond},
		{"at 32 ms the two meet", 32 * time.Millisecond, 4 * time.Millisecond},
		{"above: 12.5%", 100 * time.Millisecond, 12500 * time.Microsecond},
		{"a second", time.Second, 125 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, Of(tc.gap))
			assert.InDelta(t, float64(tc.want)/float64(time.Millisecond), Ms(float64(tc.gap)/float64(time.Millisecond)), 1e-9, "Ms agrees with Of")
		})
	}
}
