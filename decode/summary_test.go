package decode

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"kcplab/kcpwire"
)

// sent is one datagram for a summary: from the client (c→s) or the server, with its segments.
type sent struct {
	fromClient bool
	segs       []kcpwire.Segment
}

var (
	sumCli = netip.MustParseAddrPort("127.0.0.1:40000")
	sumSrv = netip.MustParseAddrPort("127.0.0.1:8080")
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

// summarise runs datagrams through a summary, a millisecond apart, frames from 1.
func summarise(datagrams []sent) *summary {
	var s summary
	s.reset()
	for i, d := range datagrams {
		src, dst := sumSrv, sumCli
		if d.fromClient {
			src, dst = sumCli, sumSrv
		}
		s.add(i+1, time.Duration(i)*time.Millisecond, src, dst, &kcpwire.Datagram{Segments: d.segs})
	}
	return &s
}

// TestSummaryText: the lines of a summary, for exchanges whose outcome the never-acknowledged list
// names. Each row's want is the whole output.
func TestSummaryText(t *testing.T) {
	t.Parallel()
	c, s := true, false
	many := sent{fromClient: c}
	for sn := range uint32(10) {
		many.segs = append(many.segs, push(sn, 0, 1))
	}
	tests := []struct {
		name string
		in   []sent
		want string
	}{
		{"an echo, acknowledged both ways", []sent{{c, []kcpwire.Segment{push(0, 0, 5)}}, {s, []kcpwire.Segment{ack(0, 1), push(0, 1, 5)}}, {c, []kcpwire.Segment{ack(0, 1)}}}, `
conv 7  127.0.0.1:40000 ⇄ 127.0.0.1:8080  frames 1-3  0.000000-0.002000 s
  127.0.0.1:40000 → 127.0.0.1:8080  PUSH 1 (sn 0-0, 5 bytes, 0 sent again)  ACK 1  WASK 0  WINS 0  never acknowledged: none
    acknowledged after: 1.000 ms (1 ACK)
  127.0.0.1:8080 → 127.0.0.1:40000  PUSH 1 (sn 0-0, 5 bytes, 0 sent again)  ACK 1  WASK 0  WINS 0  never acknowledged: none
    acknowledged after: 1.000 ms (1 ACK)
`},
		{"the response never acknowledged: the client closed first", []sent{{c, []kcpwire.Segment{push(0, 0, 5)}}, {s, []kcpwire.Segment{ack(0, 1), push(0, 1, 5)}}, {s, []kcpwire.Segment{push(0, 1, 5)}}}, `
conv 7  127.0.0.1:40000 ⇄ 127.0.0.1:8080  frames 1-3  0.000000-0.002000 s
  127.0.0.1:40000 → 127.0.0.1:8080  PUSH 1 (sn 0-0, 5 bytes, 0 sent again)  ACK 0  WASK 0  WINS 0  never acknowledged: none
    acknowledged after: 1.000 ms (1 ACK)
  127.0.0.1:8080 → 127.0.0.1:40000  PUSH 2 (sn 0-0, 10 bytes, 1 sent again)  ACK 1  WASK 0  WINS 0  never acknowledged: sn 0 (sent 2×)
`},
		{"una acknowledges what no ACK named", []sent{{c, []kcpwire.Segment{push(0, 0, 1), push(1, 0, 1), push(2, 0, 1)}}, {s, []kcpwire.Segment{ack(2, 2)}}}, `
conv 7  127.0.0.1:40000 ⇄ 127.0.0.1:8080  frames 1-2  0.000000-0.001000 s
  127.0.0.1:40000 → 127.0.0.1:8080  PUSH 3 (sn 0-2, 3 bytes, 0 sent again)  ACK 0  WASK 0  WINS 0  never acknowledged: none
    acknowledged after: 1.000 ms (1 ACK)
  127.0.0.1:8080 → 127.0.0.1:40000  PUSH 0  ACK 1  WASK 0  WINS 0  never acknowledged: none
`},
		{"sn wraps", []sent{{c, []kcpwire.Segment{push(0xffffffff, 0, 1), push(0, 0, 1), push(1, 0, 1)}}, {s, []kcpwire.Segment{ack(0xffffffff, 1)}}}, `
conv 7  127.0.0.1:40000 ⇄ 127.0.0.1:8080  frames 1-2  0.000000-0.001000 s
  127.0.0.1:40000 → 127.0.0.1:8080  PUSH 3 (sn 4294967295-1, 3 bytes, 0 sent again)  ACK 0  WASK 0  WINS 0  never acknowledged: sn 1
    acknowledged after: 1.000 ms (1 ACK)
  127.0.0.1:8080 → 127.0.0.1:40000  PUSH 0  ACK 1  WASK 0  WINS 0  never acknowledged: none
`},
		{"a long list is cut", []sent{many}, `
conv 7  127.0.0.1:40000 ⇄ 127.0.0.1:8080  frames 1-1  0.000000-0.000000 s
  127.0.0.1:40000 → 127.0.0.1:8080  PUSH 10 (sn 0-9, 10 bytes, 0 sent again)  ACK 0  WASK 0  WINS 0  never acknowledged: sn 0, sn 1, sn 2, sn 3, sn 4, sn 5, sn 6, sn 7 and 2 more
  127.0.0.1:8080 → 127.0.0.1:40000  PUSH 0  ACK 0  WASK 0  WINS 0  never acknowledged: none
`},
		{"an ACK is timed from the transmission whose ts it echoes", []sent{
			{c, []kcpwire.Segment{withTs(push(0, 0, 1), 10), withTs(push(1, 0, 1), 10)}},
			{c, []kcpwire.Segment{withTs(push(0, 0, 1), 12)}}, // sent again 1 ms later
			{s, []kcpwire.Segment{withTs(ack(0, 0), 10)}},     // the first copy's ACK: 2 ms
			{s, []kcpwire.Segment{withTs(ack(0, 0), 12)}},     // the second's: 2 ms
			{s, []kcpwire.Segment{withTs(ack(1, 2), 10)}},     // 4 ms
		}, `
conv 7  127.0.0.1:40000 ⇄ 127.0.0.1:8080  frames 1-5  0.000000-0.004000 s
  127.0.0.1:40000 → 127.0.0.1:8080  PUSH 3 (sn 0-1, 3 bytes, 1 sent again, 1 spurious)  ACK 0  WASK 0  WINS 0  never acknowledged: none
    acknowledged after: min 2.000, median 2.000, max 4.000 ms (3 ACKs)
  127.0.0.1:8080 → 127.0.0.1:40000  PUSH 0  ACK 3  WASK 0  WINS 0  never acknowledged: none
`},
		{"datagrams with no segment", []sent{{c, nil}, {s, nil}}, `
2 datagrams with no KCP segment decoded (encrypted, FEC parity, or not KCP)
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, strings.TrimPrefix(tt.want, "\n"), string(summarise(tt.in).appendText(nil)))
		})
	}
}

// TestSummaryConversations: a conversation is a conv between two endpoints, in the order first seen;
// its a is the endpoint that sent first, whichever direction that is.
func TestSummaryConversations(t *testing.T) {
	t.Parallel()
	other := netip.MustParseAddrPort("127.0.0.1:40001")
	var s summary
	s.reset()
	s.add(1, 0, sumSrv, sumCli, &kcpwire.Datagram{Segments: []kcpwire.Segment{push(0, 0, 1)}})
	s.add(2, time.Millisecond, other, sumSrv, &kcpwire.Datagram{Segments: []kcpwire.Segment{push(0, 0, 1)}})
	s.add(3, 2*time.Millisecond, sumCli, sumSrv, &kcpwire.Datagram{Segments: []kcpwire.Segment{ack(0, 1), {Conv: 8, Cmd: kcpwire.CmdWask}}})
	require.Len(t, s.Conversations, 3)
	tests := []struct {
		conv        uint32
		a, b        netip.AddrPort
		first, last int
	}{
		{7, sumSrv, sumCli, 1, 3},
		{7, other, sumSrv, 2, 2},
		{8, sumCli, sumSrv, 3, 3},
	}
	for i, tt := range tests {
		c := s.Conversations[i]
		assert.Equal(t, tt.conv, c.Conv, "conversation %d", i)
		assert.Equal(t, tt.a, c.A, "conversation %d", i)
		assert.Equal(t, tt.b, c.B, "conversation %d", i)
		assert.Equal(t, [2]int{tt.first, tt.last}, [2]int{c.FirstFrame, c.LastFrame}, "conversation %d", i)
	}
	assert.Empty(t, s.Conversations[0].Dirs[0].Unacknowledged(&s.Conversations[0].Dirs[1]), "the client's ACK covers the server's sn 0")
}

// TestSummaryJSON: one object per conversation, and one for the datagrams with no segment.
func TestSummaryJSON(t *testing.T) {
	t.Parallel()
	s := summarise([]sent{{true, []kcpwire.Segment{push(0, 0, 5), push(1, 0, 5)}}, {false, []kcpwire.Segment{ack(0, 1)}}, {true, nil}})
	lines := strings.Split(strings.TrimSuffix(string(s.appendJSON(nil, "x.pcap")), "\n"), "\n")
	require.Len(t, lines, 2)
	var conv jsonConversation
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &conv))
	assert.Equal(t, "x.pcap", conv.File)
	assert.Equal(t, []uint32{1}, conv.AToB.Unacknowledged)
	assert.Equal(t, []uint32{}, conv.BToA.Unacknowledged)
	assert.Equal(t, 2, conv.AToB.Push)
	assert.Nil(t, conv.BToA.SnFirst, "no PUSH: no sn range")
	assert.Equal(t, &delayStats{N: 1, Min: 1, Median: 1, Max: 1}, conv.AToB.AckDelayMs)
	assert.Nil(t, conv.BToA.AckDelayMs, "nothing to acknowledge")
	assert.JSONEq(t, `{"file":"x.pcap","undecoded_datagrams":1}`, lines[1])
}
