package quantile

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestOf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		vals []float64
		q    float64
		want float64
	}{
		{"no values", nil, 0.5, 0},
		{"one value", []float64{7}, 0.9, 7},
		{"median of an odd count", []float64{1, 2, 10}, 0.5, 2},
		{"median of an even count: the mean of the middle two", []float64{1, 2, 4, 10}, 0.5, 3},
		{"smallest", []float64{1, 2, 4, 10}, 0, 1},
		{"largest", []float64{1, 2, 4, 10}, 1, 10},
		{"between ranks", []float64{0, 10}, 0.25, 2.5},
		{"q above 1 is the largest", []float64{1, 2}, 2, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.InDelta(t, tc.want, Of(tc.vals, tc.q), 1e-9)
		})
	}
}
