// Package tolerance is kcplab's one timing tolerance, packetdrill's: the slack allowed around an
// expected time is max(4 ms, 12.5% of it). The harness judges a class's timings with it; the claims
// judge a published RTT with it.
package tolerance

import "time"

// Of is the slack allowed around an expected gap: max(4 ms, 12.5% of the gap).
func Of(gap time.Duration) time.Duration {
	return max(4*time.Millisecond, gap/8)
}

// Ms is Of for a gap in milliseconds.
func Ms(gap float64) float64 {
	return float64(Of(time.Duration(gap*float64(time.Millisecond)))) / float64(time.Millisecond)
}
