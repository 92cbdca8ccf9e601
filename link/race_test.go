//go:build race

package link

// raceEnabled is true under the race detector, which slows the decision loops about tenfold.
const raceEnabled = true
