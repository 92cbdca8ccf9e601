package link

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// Jitter adds to each datagram's delay an offset drawn uniformly from [-Amplitude, +Amplitude]
// (the total added delay is clamped at zero). Without Reorder, a datagram's due time is raised to
// that of the datagram sent before it in the same direction, so jitter never reorders.
type Jitter struct {
	Amplitude time.Duration // >= 0; the offset's range is ±Amplitude
	Reorder   bool          // allow datagrams to overtake one another
}

func (j Jitter) validate() error {
	if j.Amplitude < 0 {
		return fmt.Errorf("jitter %v is negative", j.Amplitude)
	}
	return nil
}

func (j Jitter) validateReorder() error {
	if j.Reorder && j.Amplitude == 0 {
		return fmt.Errorf("reorder needs jitter")
	}
	return nil
}

// uniformJitter draws the offsets: one draw per copy.
type uniformJitter struct {
	amp int64 // ns
	rng *rand.Rand
}

func (u *uniformJitter) offset() time.Duration {
	return time.Duration(u.rng.Int64N(2*u.amp+1) - u.amp)
}
