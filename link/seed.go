package link

import (
	"crypto/rand"
	"encoding/binary"
)

// RandomSeed returns a fresh seed from crypto/rand, for a run not given one.
func RandomSeed() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux
	return binary.LittleEndian.Uint64(b[:])
}

// TrialSeed derives trial n's link seed from a run's seed, so that a run replays from one number
// and each trial's seed, recorded in its summary, replays that trial alone.
func TrialSeed(runSeed uint64, n int) uint64 {
	return splitmix64(runSeed ^ splitmix64(uint64(n)))
}
