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
