package harness

import (
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"kcplab/capture"
	"kcplab/kcpwire"
)

// timeoutErr is a deadline error as kcp-go returns it: a net.Error behind a wrapper.
type timeoutErr struct{}

func (timeoutErr) Error() string   { return "timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

var wrappedTimeout = fmt.Errorf("read: %w", timeoutErr{})

func TestIsTimeoutSeesThroughWrapping(t *testing.T) {
	t.Parallel()
	assert.True(t, IsTimeout(wrappedTimeout))
	assert.False(t, IsTimeout(io.EOF))
	assert.Equal(t, "timeout", ErrClass(wrappedTimeout))
	assert.Equal(t, "EOF", ErrClass(io.EOF))
	assert.Equal(t, "closed", ErrClass(io.ErrClosedPipe))
}

func TestOutcomes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err      error
		outcome  Outcome
		errClass string
	}{
		{nil, OutcomeOK, "ok"},
		{wrappedTimeout, OutcomeTimeout, "timeout"},
		{fmt.Errorf("read: %w", io.EOF), OutcomeEOF, "EOF"},
		{io.ErrClosedPipe, OutcomeClosed, "closed"},
		{fmt.Errorf("write: %w", net.ErrClosed), OutcomeClosed, "closed"},
		{errors.New("boom"), OutcomeOther, "boom"},
	} {
		t.Run(tc.errClass, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.outcome, OutcomeOf(tc.err))
			assert.Equal(t, tc.errClass, ErrClass(tc.err))
		})
	}
	tr := &Trace{ServerErr: []error{nil, wrappedTimeout, wrappedTimeout}, TornDown: []bool{false, false, true}}
	for n, want := range map[int]Outcome{1: OutcomeOK, 2: OutcomeTimeout, 3: OutcomeTornDown} {
		got, ok := tr.ServerOutcome(n)
		assert.True(t, ok, "server#%d", n)
		assert.Equal(t, want, got, "server#%d", n)
	}
	for _, n := range []int{0, 4} {
		_, ok := tr.ServerOutcome(n)
		assert.False(t, ok, "server#%d", n)
	}
	assert.Equal(t, "torn down", OutcomeTornDown.String())
}

// exchange is a p003-like trace: request, ACK, response, ACK, and the application events behind it.
func exchange() *Trace {
	t0 := time.Unix(1700000000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	push := func(dir Dir, sn, una uint32, data string, ms int, dg int) Seg {
		return Seg{Segment: kcpwire.Segment{Cmd: kcpwire.CmdPush, Sn: sn, Una: una, Len: uint32(len(data)), Data: []byte(data)},
			Dir: dir, Datagram: dg, Time: time.Duration(ms) * time.Millisecond}
	}
	ack := func(dir Dir, sn, una uint32, ms int, dg int) Seg {
		return Seg{Segment: kcpwire.Segment{Cmd: kcpwire.CmdAck, Sn: sn, Una: una}, Dir: dir, Datagram: dg,
			Time: time.Duration(ms) * time.Millisecond}
	}
	return &Trace{
		Start:     t0,
		Datagrams: make([]capture.Datagram, 4),
		Segments: []Seg{
			push(C2S, 0, 0, "handshake", 0, 0), ack(S2C, 0, 1, 1, 1), push(S2C, 0, 1, "now", 1, 2), ack(C2S, 0, 1, 101, 3),
		},
		Events: []Event{
			{Time: at(0), Side: Client, Kind: EvWrite, N: 9, Data: []byte("handshake")},
			{Time: at(1), Side: Server, Session: 1, Kind: EvRead, N: 9, Data: []byte("handshake")},
			{Time: at(1), Side: Server, Session: 1, Kind: EvWrite, N: 3, Data: []byte("now")},
			{Time: at(2), Side: Client, Kind: EvRead, N: 3, Data: []byte("now")},
			{Time: at(1003), Side: Client, Kind: EvRead, Err: wrappedTimeout},
		},
	}
}

func TestChecks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		check  Check
		mutate func(tr *Trace)
		want   string // "" passes; otherwise a substring of the error
	}{
		{"no handshake: passes", NoHandshake(), func(*Trace) {}, ""},
		{"no handshake: datagram before the request", NoHandshake(), func(tr *Trace) {
			probe := Seg{Segment: kcpwire.Segment{Cmd: kcpwire.CmdWask}, Dir: C2S}
			for i := range tr.Segments {
				tr.Segments[i].Datagram++
			}
			tr.Segments = append([]Seg{probe}, tr.Segments...)
		}, "1 segment(s) before"},
		{"data and acks: passes", OnlyDataAndAcks(), func(*Trace) {}, ""},
		{"data and acks: unexplained bytes", OnlyDataAndAcks(), func(tr *Trace) {
			tr.Segments[2].Data = []byte("bye")
		}, "never wrote"},
		{"data and acks: ack of nothing", OnlyDataAndAcks(), func(tr *Trace) { tr.Segments[3].Sn = 5 }, "never sent"},
		{"data and acks: control segment", OnlyDataAndAcks(), func(tr *Trace) {
			tr.Segments[3].Cmd = kcpwire.CmdWins
		}, "control segment"},
		{"timeout: passes", ReadEndsInTimeout(Client), func(*Trace) {}, ""},
		{"timeout: late is still a timeout", ReadEndsInTimeout(Client), func(tr *Trace) {
			tr.Events[4].Time = tr.Start.Add(1200 * time.Millisecond)
		}, ""},
		{"timeout: EOF", ReadEndsInTimeout(Client), func(tr *Trace) { tr.Events[4].Err = io.EOF }, "EOF"},
		{"timeout: other error", ReadEndsInTimeout(Client), func(tr *Trace) {
			tr.Events[4].Err = io.ErrClosedPipe
		}, "want timeout"},
		{"read got: passes", ReadGot(Client), func(*Trace) {}, ""},
		{"read got: short", ReadGot(Client), func(tr *Trace) { tr.Events[3].Data = []byte("no") }, "read 2 bytes"},
		{"read nothing: fails", ReadNothing(Client), func(*Trace) {}, "read 3 bytes"},
		{"accepted: fails", AcceptedSessions(1), func(tr *Trace) { tr.Accepts = 2 }, "accepted 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tr := exchange()
			tr.Accepts = 1
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
	timing := ReadTimeoutAfter(Client, time.Second)
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
			tr := exchange()
			tr.Events[4].Time = tr.Start.Add(tc.at)
			got, at, ok := timing.Measure(tr)
			require.True(t, ok)
			assert.Equal(t, tc.wantGot, got)
			assert.Equal(t, tc.at, at)
			err := timing.early(tr)
			if tc.early == "" {
				assert.NoError(t, err)
			} else if assert.Error(t, err) {
				assert.Contains(t, err.Error(), tc.early)
			}
		})
	}
}
