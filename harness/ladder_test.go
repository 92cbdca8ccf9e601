package harness

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"kcplab/kcpwire"
)

func seg(dir Dir, cmd kcpwire.Cmd, sn, una, n uint32, at time.Duration) Seg {
	return Seg{Segment: kcpwire.Segment{Cmd: cmd, Sn: sn, Una: una, Len: n}, Dir: dir, Time: at}
}

func TestTolerance(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ gap, want time.Duration }{
		{0, 4 * time.Millisecond},
		{10 * time.Millisecond, 4 * time.Millisecond},
		{32 * time.Millisecond, 4 * time.Millisecond},
		{100 * time.Millisecond, 12500 * time.Microsecond},
		{time.Second, 125 * time.Millisecond},
	} {
		assert.Equal(t, tc.want, Tolerance(tc.gap), "gap %v", tc.gap)
	}
}

func TestLadderMatch(t *testing.T) {
	t.Parallel()
	ladder := Ladder{
		Push(C2S).WithSn(0).WithLen(9),
		Ack(S2C).WithSn(0).WithUna(1),
		Ack(C2S).WithUna(1).After(100 * time.Millisecond),
	}
	good := []Seg{
		seg(C2S, kcpwire.CmdPush, 0, 0, 9, 0),
		seg(S2C, kcpwire.CmdAck, 0, 1, 0, time.Millisecond),
		seg(C2S, kcpwire.CmdAck, 0, 1, 0, 101*time.Millisecond),
	}
	tests := []struct {
		name   string
		segs   func() []Seg
		reason string // substring of the mismatch; "" means it matches
	}{
		{"exact", func() []Seg { return good }, ""},
		{"gap at the edge of the tolerance", func() []Seg {
			s := append([]Seg(nil), good...)
			s[2].Time = s[1].Time + 112*time.Millisecond
			return s
		}, ""},
		{"gap too long", func() []Seg {
			s := append([]Seg(nil), good...)
			s[2].Time = s[1].Time + 113*time.Millisecond
			return s
		}, "gap 113.0ms"},
		{"gap too short", func() []Seg {
			s := append([]Seg(nil), good...)
			s[2].Time = s[1].Time + 2*time.Millisecond
			return s
		}, "gap 2.0ms"},
		{"wrong direction", func() []Seg {
			s := append([]Seg(nil), good...)
			s[1].Dir = C2S
			return s
		}, "[dir]"},
		{"wrong sn and len", func() []Seg {
			s := append([]Seg(nil), good...)
			s[0].Sn, s[0].Len = 1, 10
			return s
		}, "[sn,len]"},
		{"absolute time", func() []Seg {
			s := append([]Seg(nil), good...)
			s[1].Time = 30 * time.Millisecond // a late response does not move the client's tick
			s[2].Time = 101 * time.Millisecond
			return s
		}, "gap 71.0ms"},
		{"missing segment", func() []Seg { return good[:2] }, "want 3 segments, got 2"},
		{"extra segment", func() []Seg {
			return append(append([]Seg(nil), good...), seg(S2C, kcpwire.CmdPush, 0, 1, 5, 200*time.Millisecond))
		}, "want 3 segments, got 4"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := ladder.Match(tc.segs(), nil)
			if tc.reason == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.reason)
			assert.Contains(t, err.Error(), "expected")
			assert.Contains(t, err.Error(), "✗")
		})
	}
}

func TestLadderAt(t *testing.T) {
	t.Parallel()
	ladder := Ladder{Push(C2S), Push(S2C), Ack(C2S).At(100 * time.Millisecond)}
	segs := []Seg{
		seg(C2S, kcpwire.CmdPush, 0, 0, 9, 0),
		seg(S2C, kcpwire.CmdPush, 0, 1, 5, 30*time.Millisecond),
		seg(C2S, kcpwire.CmdAck, 0, 1, 0, 101*time.Millisecond),
	}
	require.NoError(t, ladder.Match(segs, nil))
	segs[2].Time = 131 * time.Millisecond
	err := ladder.Match(segs, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "at 131.0ms")
	assert.Contains(t, err.Error(), "(@100ms±12.5ms)")
}

func TestLadderMismatchSideBySide(t *testing.T) {
	t.Parallel()
	err := Ladder{Push(C2S).WithLen(9), Ack(S2C)}.Match([]Seg{seg(C2S, kcpwire.CmdPush, 0, 0, 9, 0)}, nil)
	require.Error(t, err)
	lines := strings.Split(strings.TrimSpace(err.Error()), "\n")
	require.Len(t, lines, 4, err.Error())
	assert.True(t, strings.HasPrefix(lines[2], "  "), "matching row unmarked: %q", lines[2])
	assert.True(t, strings.HasPrefix(lines[3], "✗"), "missing row marked: %q", lines[3])
	assert.Contains(t, lines[2], "|")
}

// TestLadderStalls replays CI's failing p003 trials: the client's ACK, due at its 100 ms tick, went out
// at 162 ms while the process was stalled from 92 ms to 160 ms. A stall lets a timed step be late by
// the stall around it, never early, and never later than the stall explains.
func TestLadderStalls(t *testing.T) {
	t.Parallel()
	ladder := Ladder{Push(C2S), Ack(S2C), Push(S2C), Ack(C2S).At(100 * time.Millisecond)}
	segsWithAckAt := func(at time.Duration) []Seg {
		return []Seg{
			seg(C2S, kcpwire.CmdPush, 0, 0, 9, 5600*time.Microsecond),
			seg(S2C, kcpwire.CmdAck, 0, 1, 0, 6400*time.Microsecond),
			seg(S2C, kcpwire.CmdPush, 0, 1, 55, 6400*time.Microsecond),
			seg(C2S, kcpwire.CmdAck, 0, 1, 0, at),
		}
	}
	stall := Stalls{{From: 92 * time.Millisecond, To: 160 * time.Millisecond}}
	ms := func(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }
	tests := []struct {
		name   string
		ackAt  time.Duration
		stalls Stalls
		reason string // "" means it matches
	}{
		{"late without a stall", ms(162.1), nil, "at 162.1ms"},
		{"late by the stall", ms(162.1), stall, ""},
		{"later than the stall explains", ms(181), stall, "at 181.0ms (late by more than the 68.0ms stall allowed)"},
		{"a stall never excuses an early segment", ms(50), stall, "at 50.0ms"},
		{"a stall after the segment does not count", ms(162.1), Stalls{{From: 170 * time.Millisecond, To: 300 * time.Millisecond}}, "at 162.1ms"},
		{"a stall long before the due time does not count", ms(162.1), Stalls{{From: 10 * time.Millisecond, To: 80 * time.Millisecond}}, "at 162.1ms"},
		{"only the part inside the window counts", ms(140), Stalls{{From: 50 * time.Millisecond, To: 110 * time.Millisecond}}, "late by more than the 22.5ms stall allowed"},
		// make capture, p003-linger trial 13: the process stalled over the trial's start, the client's
		// first tick ran 13.1 ms late, and its next tick (the ACK) came 100 ms after that one.
		{"a stall over the start delays every tick", ms(113.6), Stalls{{From: ms(-3.8), To: ms(13.1)}}, ""},
		{"a stall over the start explains only its own length", ms(126), Stalls{{From: ms(-3.8), To: ms(13.1)}}, "late by more than the 13.1ms stall allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := ladder.Match(segsWithAckAt(tc.ackAt), tc.stalls)
			if tc.reason == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.reason)
		})
	}
}

func TestStallsWithin(t *testing.T) {
	t.Parallel()
	s := Stalls{{From: 10 * time.Millisecond, To: 20 * time.Millisecond}, {From: 30 * time.Millisecond, To: 35 * time.Millisecond}}
	for _, tc := range []struct{ from, to, want time.Duration }{
		{0, 100 * time.Millisecond, 15 * time.Millisecond},
		{15 * time.Millisecond, 32 * time.Millisecond, 7 * time.Millisecond},
		{20 * time.Millisecond, 30 * time.Millisecond, 0},
		{40 * time.Millisecond, 50 * time.Millisecond, 0},
	} {
		assert.Equal(t, tc.want, s.Within(tc.from, tc.to), "within %v-%v", tc.from, tc.to)
	}
	assert.Zero(t, Stalls(nil).Within(0, time.Hour))
	assert.Equal(t, "stalled 10.0-20.0ms, 30.0-35.0ms", s.String())
}
