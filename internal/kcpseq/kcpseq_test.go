package kcpseq

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"kcplab/kcpwire"
)

var (
	cli = netip.MustParseAddrPort("127.0.0.1:40000")
	srv = netip.MustParseAddrPort("127.0.0.1:8080")
)

// push and ack are segments of conv 7 with the sn and ts the analysis matches on.
func push(sn, ts uint32) kcpwire.Segment {
	return kcpwire.Segment{Conv: 7, Cmd: kcpwire.CmdPush, Sn: sn, Ts: ts, Len: 1}
}

func ack(sn, ts uint32) kcpwire.Segment {
	return kcpwire.Segment{Conv: 7, Cmd: kcpwire.CmdAck, Sn: sn, Ts: ts}
}

// TestMarks: the mark of each segment, datagram by datagram (frames from 1, a millisecond
// apart), as the dissector's kcp.analysis fields give them: a PUSH sent again names the frame that
// first sent its sn, however often it was sent; an ACK names the PUSH transmission whose ts it
// echoes (none when no copy carried it), and counts the copies sent after that one as spurious, each
// once, whether sent before the ACK (counted on it) or after (marked on the copy); the
// other direction and another conv are sequences of their own.
func TestMarks(t *testing.T) {
	t.Parallel()
	otherConv := push(0, 0)
	otherConv.Conv = 8
	tests := []struct {
		name       string
		fromClient bool
		segs       []kcpwire.Segment
		want       []Mark
	}{
		{"the first PUSH of an sn", true, []kcpwire.Segment{push(0, 10)}, []Mark{{}}},
		{"the sn sent again names its first frame", true, []kcpwire.Segment{push(0, 12)}, []Mark{{FirstFrame: 1}}},
		{"a third copy names the first frame too; a new sn nothing", true,
			[]kcpwire.Segment{push(0, 13), push(1, 13)}, []Mark{{FirstFrame: 1}, {}}},
		{"the ACK echoing the second copy's ts shows the third spurious; the server's own sn 0 and another conv's are new", false,
			[]kcpwire.Segment{ack(0, 12), push(0, 0), otherConv},
			[]Mark{{AcksFrame: 2, AckDelay: 2 * time.Millisecond, Spurious: 1}, {}, {}}},
		{"an ACK echoing a ts no copy carried, and an ACK of an sn never sent, have no mark", false,
			[]kcpwire.Segment{ack(1, 99), ack(5, 0)}, []Mark{{}, {}}},
		{"the client's ACK of the server's PUSH", true, []kcpwire.Segment{ack(0, 0)}, []Mark{{AcksFrame: 4, AckDelay: 2 * time.Millisecond}}},
		{"an ACK of the first copy shows the second spurious, not the third again; an ACK of the latest copy shows none", false,
			[]kcpwire.Segment{ack(0, 10), ack(0, 13)},
			[]Mark{{AcksFrame: 1, AckDelay: 6 * time.Millisecond, Spurious: 1}, {AcksFrame: 3, AckDelay: 4 * time.Millisecond}}},
		{"a copy sent after an ACK showed an earlier one arrived is spurious itself", true,
			[]kcpwire.Segment{push(0, 14)}, []Mark{{FirstFrame: 1, Spurious: 1}}},
	}
	var a Analysis
	for i, tt := range tests { // in order: each row's marks depend on the rows before it
		src, dst := srv, cli
		if tt.fromClient {
			src, dst = cli, srv
		}
		got := append([]Mark(nil), a.Add(i+1, time.Duration(i)*time.Millisecond, src, dst, tt.segs)...)
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, got)
		})
	}
}
