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

func TestLadderMatch(t *testing.T) {
	t.Parallel()
	ladder := Ladder{
		Push(C2S).WithSn(0).WithLen(9),
		Ack(S2C).WithSn(0).WithUna(1),
		Ack(C2S).WithUna(1).WithUnread(0).After(100 * time.Millisecond),
	}
	good := []Seg{
		seg(C2S, kcpwire.CmdPush, 0, 0, 9, 0),
		seg(S2C, kcpwire.CmdAck, 0, 1, 0, time.Millisecond),
		seg(C2S, kcpwire.CmdAck, 0, 1, 0, 101*time.Millisecond),
	}
	good[0].Wnd, good[2].Wnd = 32, 32 // kcp-go's full window, nothing unread
	extra := seg(S2C, kcpwire.CmdPush, 0, 1, 5, 200*time.Millisecond)
	tests := []struct {
		name   string
		edit   func(s []Seg) []Seg // changes a copy of good
		reason string              // substring of the mismatch; "" means it matches
	}{
		{"exact", func(s []Seg) []Seg { return s }, ""},
		// Time never decides a pattern: a busy machine can delay a segment without kcp-go doing
		// anything else. Timing is judged over all the trials of a class (timing.go).
		{"a late segment still fits", func(s []Seg) []Seg { s[2].Time = s[1].Time + 180*time.Millisecond; return s }, ""},
		{"an early segment still fits", func(s []Seg) []Seg { s[2].Time = s[1].Time + 2*time.Millisecond; return s }, ""},
		{"wrong direction", func(s []Seg) []Seg { s[1].Dir = C2S; return s }, "[dir]"},
		{"wrong sn and len", func(s []Seg) []Seg { s[0].Sn, s[0].Len = 1, 10; return s }, "[sn,len]"},
		{"wrong wnd", func(s []Seg) []Seg { s[2].Wnd = 31; return s }, "[wnd]"},
		// The full window is the sender's own, whatever the implementation: ikcp.c's is 128.
		{"another implementation's full window", func(s []Seg) []Seg { s[0].Wnd, s[2].Wnd = 128, 128; return s }, ""},
		{"kcp-go's 32 below a sender's full window of 128", func(s []Seg) []Seg { s[0].Wnd = 128; return s }, "[wnd]"},
		{"missing segment", func(s []Seg) []Seg { return s[:2] }, "want 3 segments, got 2"},
		{"extra segment", func(s []Seg) []Seg { return append(s, extra) }, "want 3 segments, got 4"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := ladder.Match(tc.edit(append([]Seg(nil), good...)))
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

func TestStepString(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		step Step
		want string
	}{
		{Push(C2S).WithSn(0).WithLen(9), "c→s PUSH sn=0 una=* len=9"},
		{Ack(C2S).WithSn(0).WithUna(1).WithUnread(0).At(100 * time.Millisecond), "c→s ACK  sn=0 una=1 len=0 wnd=full (@100ms±12.5ms)"},
		{Ack(C2S).WithSn(0).WithUna(1).WithUnread(1).After(0), "c→s ACK  sn=0 una=1 len=0 wnd=full-1 (+0s±4ms)"},
		{Push(S2C).After(200 * time.Millisecond), "s→c PUSH sn=* una=* len=* (+200ms±25ms)"},
	} {
		assert.Equal(t, tc.want, tc.step.String())
	}
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

// TestLadderRepeatFailsFast: a long ladder of optional steps that cannot match must fail in linear
// time, not by trying every split (which takes minutes for a 100-round ladder on a trace it does not fit).
func TestLadderRepeatFailsFast(t *testing.T) {
	t.Parallel()
	var l Ladder
	for range 300 {
		l = append(l, Push(C2S).Repeat(0, 50), Ack(S2C).Repeat(0, 50))
	}
	var segs []Seg
	for i := range 200 {
		segs = append(segs, seg(C2S, kcpwire.CmdPush, uint32(i), 0, 1, 0))
	}
	segs = append(segs, seg(C2S, kcpwire.CmdWask, 0, 0, 0, 0)) // fits no step
	done := make(chan error, 1)
	go func() { done <- l.Match(segs) }()
	select {
	case err := <-done:
		require.Error(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Match did not return within 10 s")
	}
}
