package kcpwire

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// trafficStats counts what a capture contained.
type trafficStats struct {
	datagrams, multiSeg int
	cmds                map[Cmd]int
	shards              map[ShardType]int
	fragmented          int
}

// TestGuessRealTraffic runs real kcp-go sessions of every kind over loopback
// and requires a Detector with framing auto to decode every plain and FEC
// datagram (parity shards too: they follow data shards on the flow), to
// claim no encrypted one, and GuessOnPort to be right on every datagram.
// (frg is only logged: UDPSession.Write cuts messages longer than the MSS
// into separate one-segment messages, so kcp-go sessions always send frg 0.)
func TestGuessRealTraffic(t *testing.T) {
	t.Parallel()
	src, dst := netip.MustParseAddrPort("127.0.0.1:40000"), netip.MustParseAddrPort("127.0.0.1:8080")
	for _, tc := range trafficCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pkts := runTraffic(t, tc, 300)
			require.NotEmpty(t, pkts)
			st := trafficStats{cmds: map[Cmd]int{}, shards: map[ShardType]int{}}
			wrong := 0
			var (
				d   Datagram
				det Detector
			)
			for i, p := range pkts {
				st.datagrams++
				if g := GuessOnPort(p); g != tc.want {
					wrong++
					if wrong <= 5 {
						t.Errorf("datagram %d (%d bytes): GuessOnPort = %v, want %v: % x", i, len(p), g, tc.want, p[:min(len(p), 48)])
					}
					continue
				}
				err := det.Decode(&d, p, len(p), src, dst, FramingAuto)
				if tc.want == FramingEncrypted {
					require.Error(t, err, "datagram %d: ciphertext claimed as %v", i, d.Framing)
					require.NoError(t, d.Decode(p, FramingEncrypted))
					continue
				}
				require.NoError(t, err, "datagram %d", i)
				require.Equal(t, tc.want, d.Framing)
				require.Equal(t, p, d.AppendTo(nil), "datagram %d re-encodes to the same bytes", i)
				if d.Framing == FramingFEC {
					st.shards[d.FEC.Type]++
				}
				if len(d.Segments) > 1 {
					st.multiSeg++
				}
				for _, s := range d.Segments {
					st.cmds[s.Cmd]++
					if s.Frg > 0 {
						st.fragmented++
					}
				}
			}
			t.Logf("%s: %d datagrams, %d multi-segment, cmds %v, shards %v, %d fragments with frg>0",
				tc.name, st.datagrams, st.multiSeg, st.cmds, st.shards, st.fragmented)
			require.Zero(t, wrong, "Guess wrong on %d of %d datagrams", wrong, len(pkts))
			assert.GreaterOrEqual(t, st.datagrams, 300)
			switch tc.want {
			case FramingPlain:
				assert.Positive(t, st.cmds[CmdPush])
				assert.Positive(t, st.cmds[CmdAck])
				assert.Positive(t, st.multiSeg)
			case FramingFEC:
				assert.Positive(t, st.shards[ShardData])
				assert.Positive(t, st.shards[ShardParity])
				assert.Positive(t, st.shards[ShardOOB])
				assert.Positive(t, st.multiSeg)
			}
		})
	}
}
