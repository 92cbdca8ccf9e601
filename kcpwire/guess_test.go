package kcpwire

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGuess(t *testing.T) {
	t.Parallel()
	push := plainBytes(seg(CmdPush, 0, 0, "handshake"))
	multi := plainBytes(seg(CmdAck, 0, 1, ""), seg(CmdAck, 1, 1, ""), seg(CmdPush, 5, 1, "data"))
	truncated := multi[:len(multi)-1]
	parityNonZero := parityBytes(3, 64)
	parityNonZero[31] = 1
	oobWrongSeq := oobBytes(1, "x")
	oobWrongSeq[0] = 0
	fecHighType := fecBytes(1, ShardData, push)
	fecHighType[5] = 1
	mixedConv := plainBytes(seg(CmdAck, 0, 1, ""), Segment{Conv: testConv + 1, Cmd: CmdPush, Wnd: 32, Una: 1, Data: []byte("x")})
	mixedWnd := plainBytes(seg(CmdAck, 0, 1, ""), Segment{Conv: testConv, Cmd: CmdPush, Wnd: 31, Una: 1, Data: []byte("x")})
	mixedUna := plainBytes(seg(CmdAck, 0, 1, ""), seg(CmdPush, 0, 2, "x"))
	ackWithData := plainBytes(seg(CmdAck, 0, 1, "x"))
	ackWithFrg := plainBytes(Segment{Conv: testConv, Cmd: CmdAck, Frg: 1, Wnd: 32})
	pushBeforeAck := plainBytes(seg(CmdPush, 0, 1, "x"), seg(CmdAck, 0, 1, ""))
	probes := plainBytes(seg(CmdAck, 0, 1, ""), seg(CmdWask, 0, 1, ""), seg(CmdWins, 0, 1, ""), seg(CmdPush, 0, 1, "x"))
	emptyPush := plainBytes(seg(CmdPush, 0, 1, ""))
	tests := []struct {
		name string
		in   []byte
		want Framing
		port Framing // GuessOnPort
	}{
		{"plain push", push, FramingPlain, FramingPlain},
		{"plain ack only", plainBytes(seg(CmdAck, 0, 1, "")), FramingPlain, FramingPlain},
		{"plain multi", multi, FramingPlain, FramingPlain},
		{"plain wask", plainBytes(seg(CmdWask, 0, 0, "")), FramingPlain, FramingPlain},
		{"plain in flush order", probes, FramingPlain, FramingPlain},
		{"fec data", fecBytes(0, ShardData, push), FramingFEC, FramingFEC},
		{"fec data multi", fecBytes(9, ShardData, multi), FramingFEC, FramingFEC},
		{"fec oob", oobBytes(testConv, "x"), FramingFEC, FramingFEC},
		{"fec oob empty", oobBytes(testConv, ""), FramingFEC, FramingFEC},
		{"fec parity: not on its own", parityBytes(11, 1400), FramingAuto, FramingFEC},
		{"fec parity minimal", parityBytes(10, 32), FramingAuto, FramingFEC},
		{"ciphertext", noise(44), FramingAuto, FramingEncrypted},
		{"ciphertext min", noise(MinEncryptedLen), FramingAuto, FramingEncrypted},
		{"truncated plain", truncated, FramingAuto, FramingEncrypted},
		{"plain with trailing byte", append(append([]byte{}, push...), 0), FramingAuto, FramingEncrypted},
		{"segments with different conv", mixedConv, FramingAuto, FramingPlain},
		{"segments with different wnd", mixedWnd, FramingAuto, FramingPlain},
		{"segments with different una", mixedUna, FramingAuto, FramingPlain},
		{"ack with data", ackWithData, FramingAuto, FramingPlain},
		{"ack with frg", ackWithFrg, FramingAuto, FramingPlain},
		{"empty push", emptyPush, FramingAuto, FramingPlain},
		{"push before ack", pushBeforeAck, FramingAuto, FramingPlain},
		{"parity with non-zero bytes 30..31", parityNonZero, FramingAuto, FramingEncrypted},
		{"parity shorter than a data shard", parityBytes(1, 32)[:31], FramingAuto, FramingAuto},
		{"oob with wrong seqid", oobWrongSeq, FramingAuto, FramingAuto},
		{"fec type high byte set", fecHighType, FramingAuto, FramingEncrypted},
		{"fec data bad size", fecBytes(0, ShardData, push)[:40], FramingAuto, FramingEncrypted},
		{"short junk", noise(31), FramingAuto, FramingAuto},
		{"empty", nil, FramingAuto, FramingAuto},
		{"24 zero bytes", make([]byte, 24), FramingAuto, FramingAuto},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, Guess(tt.in), "Guess")
			assert.Equal(t, tt.port, GuessOnPort(tt.in), "GuessOnPort")
		})
	}
}

// TestGuessRandomIsNotKCP checks that random bytes of every length, also
// with a valid cmd or FEC type at bytes 4..5, are never claimed as KCP.
func TestGuessRandomIsNotKCP(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	bytesSrc := rand.NewChaCha8([32]byte{1, 2})
	buf := make([]byte, 1500)
	counts := map[Framing]int{}
	const n = 200_000
	for i := range n {
		p := buf[:i%(len(buf)+1)]
		_, _ = bytesSrc.Read(p)
		// make 1 in 2 look like a plain or FEC header at bytes 4..5
		if len(p) >= 6 {
			switch rng.IntN(4) {
			case 0:
				p[4] = byte(CmdPush + Cmd(rng.IntN(4)))
			case 1:
				p[4], p[5] = byte(ShardData+ShardType(rng.IntN(3))), 0
			}
		}
		counts[Guess(p)]++
	}
	assert.Equal(t, map[Framing]int{FramingAuto: n}, counts)
}

// TestDecodeCapturedTruncated decodes datagrams the capture cut short: every
// segment whose header was captured, with the lengths checked against the
// wire length.
func TestDecodeCapturedTruncated(t *testing.T) {
	t.Parallel()
	ack, push := seg(CmdAck, 0, 1, ""), seg(CmdPush, 0, 1, string(make([]byte, 1000)))
	plain := plainBytes(ack, push)
	fec := fecBytes(7, ShardData, plain)
	tests := []struct {
		name     string
		in       []byte
		captured int
		f        Framing
		want     Framing // "" error: FramingAuto
		segs     int
		lastData int
	}{
		{"plain cut in push data", plain, 54, FramingAuto, FramingPlain, 2, 6},
		{"plain cut in push header", plain, 30, FramingAuto, FramingPlain, 1, 0},
		{"plain cut after ack", plain, 24, FramingAuto, FramingPlain, 1, 0},
		{"plain cut in ack header: no evidence", plain, 20, FramingAuto, FramingAuto, 0, 0},
		{"plain forced, cut in ack header", plain, 20, FramingPlain, FramingPlain, 0, 0},
		{"fec cut in push data", fec, 62, FramingAuto, FramingFEC, 2, 6},
		{"encrypted forced", noise(200), 54, FramingEncrypted, FramingEncrypted, 0, 0},
		{"complete", plain, len(plain), FramingAuto, FramingPlain, 2, 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var d Datagram
			err := d.DecodeCaptured(tt.in[:tt.captured], len(tt.in), tt.f)
			if tt.want == FramingAuto {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, d.Framing)
			assert.Equal(t, tt.captured < len(tt.in), d.Truncated)
			assert.Equal(t, len(tt.in), d.WireLen)
			require.Len(t, d.Segments, tt.segs)
			if tt.segs > 0 {
				last := d.Segments[len(d.Segments)-1]
				assert.Len(t, last.Data, tt.lastData)
			}
		})
	}
	// a len field that does not fit the wire length is no evidence
	var d Datagram
	bad := bytes.Clone(plain)
	bad[HeaderLen+offLen+1] = 9 // PUSH len 1000 + 9*256
	require.Error(t, d.DecodeCaptured(bad[:54], len(bad), FramingAuto))
}

// TestDetectorParityOnFECFlows claims a parity shard only on a flow that
// carried a FEC data shard before. Not parallel: AllocsPerRun.
func TestDetectorParityOnFECFlows(t *testing.T) {
	a, b, c := netip.MustParseAddrPort("127.0.0.1:1000"), netip.MustParseAddrPort("127.0.0.1:2000"), netip.MustParseAddrPort("127.0.0.1:3000")
	data := fecBytes(1, ShardData, plainBytes(seg(CmdPush, 0, 0, "x")))
	parity := parityBytes(2, len(data))
	var det Detector
	var d Datagram
	require.Error(t, det.Decode(&d, parity, 0, a, b, FramingAuto), "parity before any data shard")
	require.NoError(t, det.Decode(&d, data, 0, a, b, FramingAuto))
	require.NoError(t, det.Decode(&d, parity, 0, b, a, FramingAuto), "parity on the flow, other direction")
	assert.Equal(t, ShardParity, d.FEC.Type)
	require.Error(t, det.Decode(&d, parity, 0, a, c, FramingAuto), "parity on another flow")
	require.NoError(t, det.Decode(&d, noise(80), 0, a, c, FramingEncrypted))
	allocs := testing.AllocsPerRun(100, func() { _ = det.Decode(&d, parity, 0, a, b, FramingAuto) })
	assert.Zero(t, allocs)
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
