package experiments

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"kcplab/capture"
	"kcplab/harness"
	"kcplab/harness/harnesstest"
	"kcplab/kcpwire"
)

// TestLingerResentClasses: when the server's retransmission timeout fires before the client ACKs, the
// client answers the two copies of the response with an ACK each, or, when both reached it before its
// next flush, with one (kcp.go:794-795): two named classes, told apart by what was on the wire.
func TestLingerResentClasses(t *testing.T) {
	t.Parallel()
	e, err := Lookup("p003-linger")
	require.NoError(t, err)
	seg := func(cmd kcpwire.Cmd, dir harness.Dir, una uint32, data string, ms float64) harness.Seg {
		return harness.Seg{Segment: kcpwire.Segment{Cmd: cmd, Una: una, Len: uint32(len(data)), Data: []byte(data)}, Dir: dir,
			Time: time.Duration(ms * float64(time.Millisecond))}
	}
	request, response := seg(kcpwire.CmdPush, harness.C2S, 0, handshake, 0), seg(kcpwire.CmdPush, harness.S2C, 1, "now", 0.3)
	ackOf := func(dir harness.Dir, ms float64) harness.Seg { return seg(kcpwire.CmdAck, dir, 1, "", ms) }
	resent := response
	resent.Time = 202900 * time.Microsecond
	for _, tc := range []struct {
		name string
		acks []harness.Seg // the client's ACKs after the second copy
		want harness.Class
	}{
		{"an ACK of each copy", []harness.Seg{ackOf(harness.C2S, 204.4), ackOf(harness.C2S, 204.4)}, lingerResentBeforeAck},
		{"one ACK of both copies", []harness.Seg{ackOf(harness.C2S, 204.4)}, lingerResentAckedOnce},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tr := harnesstest.Exchange()
			tr.Segments = append([]harness.Seg{request, ackOf(harness.S2C, 0.3), response, resent}, tc.acks...)
			for i := range tr.Segments {
				tr.Segments[i].Datagram = i // one segment a datagram
			}
			tr.Datagrams = make([]capture.Datagram, len(tr.Segments))
			class, err := harness.Classify(e, tr)
			require.NoError(t, err)
			assert.Equal(t, tc.want.Name, class.Name)
		})
	}
}

// TestP002ClientWindows: p002's classes read the client's ACK by its window as the client's own full
// window less what its application had not read, so a client whose window is not kcp-go's 32 (ikcp.c's
// is 128) fits them too, and a client that ACKs with its Close after one datagram brought the server's
// ACK and the echo has a class of its own.
func TestP002ClientWindows(t *testing.T) {
	t.Parallel()
	e, err := Lookup("p002")
	require.NoError(t, err)
	for _, tc := range []struct {
		name    string
		full    uint16        // the client's full window, advertised by its request
		lastWnd uint16        // what its ACK of the echo advertises
		shared  bool          // the server's ACK and the echo in one datagram
		want    harness.Class // the zero Class: none fits
	}{
		{"kcp-go's window, the ACK by Close", 32, 32, false, p002AckByClose},
		{"kcp-go's window, the ACK at once", 32, 31, true, p002AckedAtOnce},
		{"ikcp.c's window, the ACK by Close", 128, 128, false, p002AckByClose},
		{"ikcp.c's window, the ACK by Close after a shared datagram", 128, 128, true, p002AckByCloseShared},
		{"kcp-go's 32 from a client whose window is 128", 128, 32, false, harness.Class{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tr := harnesstest.Exchange()
			tr.Segments[0].Wnd, tr.Segments[3].Wnd = tc.full, tc.lastWnd
			if tc.shared {
				tr.Segments[2].Datagram = tr.Segments[1].Datagram
			}
			tr.Events = append(tr.Events, harness.Event{Time: tr.Start.Add(1002 * time.Millisecond), Side: harness.Server, Session: 1,
				Kind: harness.EvRead, Err: harnesstest.Timeout})
			class, err := harness.Classify(e, tr)
			if tc.want.Name == "" {
				var f *harness.TrialFailure
				require.ErrorAs(t, err, &f)
				assert.Equal(t, harness.FailNoClass, f.Failures[0].Kind, "%v", err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want.Name, class.Name)
		})
	}
}
