// Package quantile is kcplab's one quantile: of a class's measure over trials (harness), of claims'
// figures, and of the ACK delays in a capture's summary (decode).
package quantile

// Of returns the q-quantile (0 ≤ q ≤ 1) of values sorted in ascending order, interpolated linearly
// between the two values nearest to rank q×(n-1): q=0 is the smallest, q=0.5 the median (the mean of
// the middle two of an even count), q=1 the largest. It returns 0 for no values.
func Of(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	pos := min(max(q, 0), 1) * float64(len(sorted)-1)
	i := int(pos)
	if i >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	return sorted[i] + (pos-float64(i))*(sorted[i+1]-sorted[i])
}
