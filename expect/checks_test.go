package expect

import (
	"errors"
	"fmt"
	"io"
	"kcplab/harness"
	"kcplab/harness/harnesstest"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"kcplab/kcpwire"
)

var wrappedTimeout = harnesstest.Timeout

func TestIsTimeoutSeesThroughWrapping(t *testing.T) {
	t.Parallel()
	assert.True(t, harness.IsTimeout(wrappedTimeout))
	assert.False(t, harness.IsTimeout(io.EOF))
	assert.Equal(t, "timeout", harness.ErrClass(wrappedTimeout))
	assert.Equal(t, "EOF", harness.ErrClass(io.EOF))
	assert.Equal(t, "closed", harness.ErrClass(io.ErrClosedPipe))
}

func TestOutcomes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err      error
		outcome  harness.Outcome
		errClass string
	}{
		{nil, harness.OutcomeOK, "ok"},
		{wrappedTimeout, harness.OutcomeTimeout, "timeout"},
		{fmt.Errorf("read: %w", io.EOF), harness.OutcomeEOF, "EOF"},
		{io.ErrClosedPipe, harness.OutcomeClosed, "closed"},
		{fmt.Errorf("write: %w", net.ErrClosed), harness.OutcomeClosed, "closed"},
		{errors.New("boom"), harness.OutcomeOther, "boom"},
	} {
		t.Run(tc.errClass, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.outcome, harness.OutcomeOf(tc.err))
			assert.Equal(t, tc.errClass, harness.ErrClass(tc.err))
		})
	}
	tr := &harness.Trace{ServerErr: []error{nil, wrappedTimeout, wrappedTimeout}, TornDown: []bool{false, false, true}}
	for n, want := range map[int]harness.Outcome{1: harness.OutcomeOK, 2: harness.OutcomeTimeout, 3: harness.OutcomeTornDown} {
		got, ok := tr.ServerOutcome(n)
		assert.True(t, ok, "server#%d", n)
		assert.Equal(t, want, got, "server#%d", n)
	}
	for _, n := range []int{0, 4} {
		_, ok := tr.ServerOutcome(n)
		assert.False(t, ok, "server#%d", n)
	}
	assert.Equal(t, "torn down", harness.OutcomeTornDown.String())
}

func TestChecks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		check  harness.Check
		mutate func(tr *harness.Trace)
		want   string // "" passes; otherwise a substring of the error
	}{
		{"no handshake: passes", NoHandshake(), func(*harness.Trace) {}, ""},
		{"no handshake: datagram before the request", NoHandshake(), func(tr *harness.Trace) {
			probe := harness.Seg{Segment: kcpwire.Segment{Cmd: kcpwire.CmdWask}, Dir: harness.C2S}
			for i := range tr.Segments {
				tr.Segments[i].Datagram++
			}
			tr.Segments = append([]harness.Seg{probe}, tr.Segments...)
		}, "1 segment(s) before"},
		{"data and acks: passes", OnlyDataAndAcks(), func(*harness.Trace) {}, ""},
		{"data and acks: unexplained bytes", OnlyDataAndAcks(), func(tr *harness.Trace) {
			tr.Segments[2].Data = []byte("bye")
		}, "never wrote"},
		{"data and acks: ack of nothing", OnlyDataAndAcks(), func(tr *harness.Trace) { tr.Segments[3].Sn = 5 }, "never sent"},
		{"data and acks: control segment", OnlyDataAndAcks(), func(tr *harness.Trace) {
			tr.Segments[3].Cmd = kcpwire.CmdWins
		}, "control segment"},
		{"timeout: passes", ReadEndsInTimeout(harness.Client), func(*harness.Trace) {}, ""},
		{"timeout: late is still a timeout", ReadEndsInTimeout(harness.Client), func(tr *harness.Trace) {
			tr.Events[4].Time = tr.Start.Add(1200 * time.Millisecond)
		}, ""},
		{"timeout: EOF", ReadEndsInTimeout(harness.Client), func(tr *harness.Trace) { tr.Events[4].Err = io.EOF }, "EOF"},
		{"timeout: other error", ReadEndsInTimeout(harness.Client), func(tr *harness.Trace) {
			tr.Events[4].Err = io.ErrClosedPipe
		}, "want timeout"},
		{"read got: passes", ReadGot(harness.Client), func(*harness.Trace) {}, ""},
		{"read got: short", ReadGot(harness.Client), func(tr *harness.Trace) { tr.Events[3].Data = []byte("no") }, "read 2 bytes"},
		{"read nothing: fails", ReadNothing(harness.Client), func(*harness.Trace) {}, "read 3 bytes"},
		{"accepted: fails", AcceptedSessions(1), func(tr *harness.Trace) { tr.Accepts = 2 }, "accepted 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tr := harnesstest.Exchange()
			tc.mutate(tr)
			err := tc.check.Fn(tr)
			if tc.want == "" {
				assert.NoError(t, err)
				return
			}
			if assert.Error(t, err) {
				assert.Contains(t, err.Error(), tc.want)
			}
		})
	}
}

// TestReadTimeoutAfter measures the gap from the last successful call to the Read timeout, and breaks
// a trial only when the timeout came before the deadline could expire.
func TestReadTimeoutAfter(t *testing.T) {
	t.Parallel()
	timing := ReadTimeoutAfter(harness.Client, time.Second)
	tests := []struct {
		name    string
		at      time.Duration // when the timed-out Read returned (the last successful Read returned at 2 ms)
		wantGot time.Duration
		early   string
	}{
		{"on time", 1003 * time.Millisecond, 1001 * time.Millisecond, ""},
		{"late is a measure, not a broken trial", 1200 * time.Millisecond, 1198 * time.Millisecond, ""},
		{"too early breaks the trial", 500 * time.Millisecond, 498 * time.Millisecond, "cannot send it before it is due"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tr := harnesstest.Exchange()
			tr.Events[4].Time = tr.Start.Add(tc.at)
			got, at, ok := timing.Measure(tr)
			require.True(t, ok)
			assert.Equal(t, tc.wantGot, got)
			assert.Equal(t, tc.at, at)
			err := timing.Early(tr)
			if tc.early == "" {
				assert.NoError(t, err)
			} else if assert.Error(t, err) {
				assert.Contains(t, err.Error(), tc.early)
			}
		})
	}
}
