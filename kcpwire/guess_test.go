package kcpwire

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestGuess(t *testing.T) {
	t.Parallel()
	push := plainBytes(seg(CmdPush, 0, 0, "handshake"))
	multi := plainBytes(seg(CmdAck, 0, 1, ""), seg(CmdAck, 1, 2, ""), seg(CmdPush, 5, 2, "data"))
	truncated := multi[:len(multi)-1]
	parityNonZero := parityBytes(3, 64)
	parityNonZero[31] = 1
	oobWrongSeq := oobBytes(1, "x")
	oobWrongSeq[0] = 0
	fecHighType := fecBytes(1, ShardData, push)
	fecHighType[5] = 1
	tests := []struct {
		name string
		in   []byte
		want Framing
	}{
		{"plain push", push, FramingPlain},
		{"plain ack only", plainBytes(seg(CmdAck, 0, 1, "")), FramingPlain},
		{"plain multi", multi, FramingPlain},
		{"plain wask", plainBytes(seg(CmdWask, 0, 0, "")), FramingPlain},
		{"fec data", fecBytes(0, ShardData, push), FramingFEC},
		{"fec data multi", fecBytes(9, ShardData, multi), FramingFEC},
		{"fec parity minimal", parityBytes(10, 32), FramingFEC},
		{"fec parity", parityBytes(11, 1400), FramingFEC},
		{"fec oob", oobBytes(testConv, "x"), FramingFEC},
		{"fec oob empty", oobBytes(testConv, ""), FramingFEC},
		{"encrypted", noise(44), FramingEncrypted},
		{"encrypted min", noise(MinEncryptedLen), FramingEncrypted},
		{"truncated plain is long enough to be encrypted", truncated, FramingEncrypted},
		{"plain with trailing byte", append(append([]byte{}, push...), 0), FramingEncrypted},
		{"parity with non-zero bytes 30..31", parityNonZero, FramingEncrypted},
		{"parity shorter than a data shard", parityBytes(1, 32)[:31], FramingAuto},
		{"oob with wrong seqid", oobWrongSeq, FramingAuto},
		{"fec type high byte set", fecHighType, FramingEncrypted},
		{"fec data bad size", fecBytes(0, ShardData, push)[:40], FramingEncrypted},
		{"short junk", noise(31), FramingAuto},
		{"empty", nil, FramingAuto},
		{"24 zero bytes", make([]byte, 24), FramingAuto},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, Guess(tt.in))
		})
	}
}

// TestGuessRandomIsEncrypted checks that random bytes, like kcp-go
// ciphertext, are guessed encrypted: the plain and FEC checks let random
// bytes through with a probability of about 2^-32.
func TestGuessRandomIsEncrypted(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 1500)
	counts := map[Framing]int{}
	const n = 200_000
	for range n {
		p := buf[:MinEncryptedLen+rng.IntN(len(buf)-MinEncryptedLen+1)]
		for i := range p {
			p[i] = byte(rng.Uint32())
		}
		// make 1 in 64 look like a plain or FEC header at bytes 4..5
		switch rng.IntN(64) {
		case 0:
			p[4] = byte(CmdPush + Cmd(rng.IntN(4)))
		case 1:
			p[4], p[5] = byte(ShardData+ShardType(rng.IntN(3))), 0
		}
		counts[Guess(p)]++
	}
	assert.Equal(t, map[Framing]int{FramingEncrypted: n}, counts)
}

// Not parallel: testing.AllocsPerRun refuses parallel tests.
func TestGuessDoesNotAllocate(t *testing.T) {
	in := [][]byte{plainBytes(seg(CmdPush, 0, 0, "x")), parityBytes(1, 50), noise(70), noise(5)}
	allocs := testing.AllocsPerRun(100, func() {
		for _, p := range in {
			Guess(p)
		}
	})
	assert.Zero(t, allocs)
}
