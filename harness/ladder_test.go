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
			err := ladder.Match(tc.segs())
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
	require.NoError(t, ladder.Match(segs))
	segs[2].Time = 131 * time.Millisecond
	err := ladder.Match(segs)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "at 131.0ms")
	assert.Contains(t, err.Error(), "(@100ms±12.5ms)")
}

func TestLadderMismatchSideBySide(t *testing.T) {
	t.Parallel()
	err := Ladder{Push(C2S).WithLen(9), Ack(S2C)}.Match([]Seg{seg(C2S, kcpwire.CmdPush, 0, 0, 9, 0)})
	require.Error(t, err)
	lines := strings.Split(strings.TrimSpace(err.Error()), "\n")
	require.Len(t, lines, 4, err.Error())
	assert.True(t, strings.HasPrefix(lines[2], "  "), "matching row unmarked: %q", lines[2])
	assert.True(t, strings.HasPrefix(lines[3], "✗"), "missing row marked: %q", lines[3])
	assert.Contains(t, lines[2], "|")
}
