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

func push(sn, una uint32, n int) kcpwire.Segment {
	return kcpwire.Segment{Conv: 7, Cmd: kcpwire.CmdPush, Sn: sn, Una: una, Len: uint32(n)}
}

func ack(sn, una uint32) kcpwire.Segment {
	return kcpwire.Segment{Conv: 7, Cmd: kcpwire.CmdAck, Sn: sn, Una: una}
}

// withTs returns seg with its ts set.
func withTs(seg kcpwire.Segment, ts uint32) kcpwire.Segment {
	seg.Ts = ts
	return seg
}

// TestMarks: the mark of each segment, datagram by datagram (frames from 1, a millisecond
// apart), as the dissector's kcp.analysis fields give them: a PUSH sent again names the frame that
// first sent its sn, however often it was sent; an ACK names the PUSH transmission whose ts it
// echoes (none when no copy carried it), and counts the copies sent after that one as spurious, each
// once, whether sent before the ACK (counted on it) or after (marked on the copy); the
// other direction and another conv are sequences of their own.
func TestMarks(t *testing.T) {
	t.Parallel()
	otherConv := push(0, 0, 1)
	otherConv.Conv = 8
	tests := []struct {
		name       string
		fromClient bool
		segs       []kcpwire.Segment
		want       []Mark
	}{
		{"the first PUSH of an sn", true, []kcpwire.Segment{withTs(push(0, 0, 1), 10)}, []Mark{{}}},
		{"the sn sent again names its first frame", true, []kcpwire.Segment{withTs(push(0, 0, 1), 12)}, []Mark{{FirstFrame: 1}}},
		{"a third copy names the first frame too; a new sn nothing", true,
			[]kcpwire.Segment{withTs(push(0, 0, 1), 13), withTs(push(1, 0, 1), 13)}, []Mark{{FirstFrame: 1}, {}}},
		{"the ACK echoing the second copy's ts shows the third spurious; the server's own sn 0 and another conv's are new", false,
			[]kcpwire.Segment{withTs(ack(0, 0), 12), push(0, 0, 1), otherConv},
			[]Mark{{AcksFrame: 2, AckDelay: 2 * time.Millisecond, Spurious: 1}, {}, {}}},
		{"an ACK echoing a ts no copy carried, and an ACK of an sn never sent, have no mark", false,
			[]kcpwire.Segment{withTs(ack(1, 2), 99), ack(5, 2)}, []Mark{{}, {}}},
		{"the client's ACK of the server's PUSH", true, []kcpwire.Segment{ack(0, 1)}, []Mark{{AcksFrame: 4, AckDelay: 2 * time.Millisecond}}},
		{"an ACK of the first copy shows the second spurious, not the third again; an ACK of the latest copy shows none", false,
			[]kcpwire.Segment{withTs(ack(0, 1), 10), withTs(ack(0, 1), 13)},
			[]Mark{{AcksFrame: 1, AckDelay: 6 * time.Millisecond, Spurious: 1}, {AcksFrame: 3, AckDelay: 4 * time.Millisecond}}},
		{"a copy sent after an ACK showed an earlier one arrived is spurious itself", true,
			[]kcpwire.Segment{withTs(push(0, 0, 1), 14)}, []Mark{{FirstFrame: 1, Spurious: 1}}},
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
