package claims

import (
	"fmt"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"kcplab/internal/dir"
	"kcplab/kcpwire"
	"kcplab/link"
)

// TestRetransOf: on the link's records of an exchange (the client's sn 0: first copy dropped and sent
// again; its sn 1: sent again before its first copy's ACK came back, so spuriously; the server's sn 1:
// sent again after the link had delivered its first copy to a client that had closed: no ACK shows
// it spurious), both paths' payloads give the same counts; a hosts path packet that is not IPv4 UDP
// is left out.
func TestRetransOf(t *testing.T) {
	t.Parallel()
	seg := func(cmd kcpwire.Cmd, sn, ts uint32, data string) []byte {
		s := kcpwire.Segment{Conv: 9, Cmd: cmd, Sn: sn, Ts: ts, Wnd: 32, Data: []byte(data)}
		return s.AppendTo(nil)
	}
	exchange := []struct {
		d       dir.Dir
		fate    link.Fate
		payload []byte
	}{
		{dir.C2S, link.FateLoss, seg(kcpwire.CmdPush, 0, 100, "a")},
		{dir.C2S, link.FateDelivered, seg(kcpwire.CmdPush, 0, 300, "a")},
		{dir.S2C, link.FateDelivered, append(seg(kcpwire.CmdAck, 0, 300, ""), seg(kcpwire.CmdPush, 0, 310, "a")...)},
		{dir.C2S, link.FateDelivered, append(seg(kcpwire.CmdAck, 0, 310, ""), seg(kcpwire.CmdPush, 1, 400, "b")...)},
		{dir.C2S, link.FateDelivered, seg(kcpwire.CmdPush, 1, 600, "b")},
		{dir.S2C, link.FateDelivered, seg(kcpwire.CmdAck, 1, 400, "")},
		{dir.S2C, link.FateDelivered, seg(kcpwire.CmdAck, 1, 600, "")},
		{dir.S2C, link.FateDelivered, seg(kcpwire.CmdPush, 1, 700, "c")},
		{dir.S2C, link.FateDelivered, seg(kcpwire.CmdPush, 1, 900, "c")},
	}
	want := Retrans{Segments: 7, Again: 3, AfterDelivered: 2, Spurious: 1, Dropped: 1, Datagrams: len(exchange)}
	for _, path := range []Path{Loopback, Hosts} {
		t.Run(path.String(), func(t *testing.T) {
			t.Parallel()
			var recs []link.Record
			for i, e := range exchange {
				p := e.payload
				if path == Hosts {
					p = udpPacket(p)
				}
				recs = append(recs, record(e.d, i, e.fate, p))
			}
			if path == Hosts {
				icmp := udpPacket(seg(kcpwire.CmdPush, 5, 0, "x"))
				icmp[9] = 1
				recs = append(recs, record(dir.S2C, len(exchange), link.FateDelivered, icmp))
			}
			assert.Equal(t, want, retransOf(recs, path))
		})
	}
}

// record is the link's record of the i-th datagram, 100 ms apart, with its fate: a delivered one has
// its copy, as the link records it.
func record(d dir.Dir, i int, fate link.Fate, payload []byte) link.Record {
	r := link.Record{Dir: d, At: time.Duration(i) * 100 * time.Millisecond, Fate: fate, Payload: payload}
	if fate == link.FateDelivered {
		r.Copied, r.Copies[0].Fate = 1, fate
	}
	return r
}

// TestCheckHoldsRetransmissionsToDrops: a KCP case's check fails when KCP sent again fewer PUSH
// segments than the link dropped (every message arrived, so each dropped copy had a later one), when
// a datagram KCP wrote did not decode as KCP, or when the ACKs show more spurious copies than the link
// shows after a delivered copy.
func TestCheckHoldsRetransmissionsToDrops(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		retrans Retrans
		want    string // "" for no error
	}{
		{"every dropped PUSH sent again", Retrans{Segments: 6, Again: 2, AfterDelivered: 1, Spurious: 1, Dropped: 2, Datagrams: 4}, ""},
		{"a dropped PUSH never sent again", Retrans{Segments: 6, Again: 1, Dropped: 2, Datagrams: 4}, "the link dropped 2 PUSH segments, KCP sent only 1 again"},
		{"a datagram that is not KCP", Retrans{Segments: 6, Datagrams: 3}, "KCP wrote 4 datagrams, 3 of them decoded as KCP"},
		{"spurious with no delivered copy before it", Retrans{Segments: 6, Again: 2, AfterDelivered: 1, Spurious: 2, Datagrams: 4}, "2 shown spurious by an ACK"},
		{"more after a delivered copy than sent again", Retrans{Segments: 6, Again: 1, AfterDelivered: 2, Datagrams: 4}, "1 sent again, 2 of them"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := Result{Case: Case{Workload: Echo{}, Transport: KCP(ModeFast), Path: Hosts}, KCPSent: [2]sent{{Datagrams: 3, Bytes: 300}, {Datagrams: 1, Bytes: 100}},
				Packets: 4, WireBytes: 400 + 4*udpIPHeader, Retrans: tc.retrans}
			err := check(r)
			if tc.want == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

// TestTCPRetransOf: a flow's data segments by byte range, with the initial sequence number anywhere
// (across the 32-bit wrap too): a segment that repeats any byte is sent again; it is sent after delivery only when
// earlier delivered copies carried all of it (a collapsed retransmission); segments without payload
// and other protocols are not data.
func TestTCPRetransOf(t *testing.T) {
	t.Parallel()
	type pkt struct {
		d     dir.Dir
		fate  link.Fate
		seq   uint32 // relative to the flow's initial sequence number
		bytes int
		syn   bool
	}
	exchange := []pkt{
		{dir.C2S, link.FateDelivered, 0, 0, true},
		{dir.S2C, link.FateDelivered, 0, 0, true},
		{dir.C2S, link.FateDelivered, 1, 100, false},
		{dir.C2S, link.FateLoss, 101, 100, false},
		{dir.C2S, link.FateDelivered, 201, 100, false},
		{dir.S2C, link.FateDelivered, 1, 0, false},     // a pure ACK
		{dir.C2S, link.FateDelivered, 101, 100, false}, // the lost one, again
		{dir.C2S, link.FateDelivered, 1, 300, false},   // all three, collapsed: all delivered before
		{dir.C2S, link.FateDelivered, 251, 150, false}, // half again, half new
		{dir.S2C, link.FateDelivered, 1, 10, false},
	}
	want := Retrans{Segments: 7, Again: 3, AfterDelivered: 1, Dropped: 1, AgainBytes: 100 + 300 + 50, DroppedBytes: 100}
	for _, isn := range []uint32{1000, 0xffffff00} {
		t.Run(fmt.Sprintf("isn %#x", isn), func(t *testing.T) {
			t.Parallel()
			var recs []link.Record
			for i, p := range exchange {
				recs = append(recs, record(p.d, i, p.fate, ipv4TCP(t, isn+p.seq, p.syn, p.bytes)))
			}
			recs = append(recs, record(dir.S2C, len(exchange), link.FateDelivered, udpPacket([]byte("not tcp"))))
			assert.Equal(t, want, tcpRetransOf(recs))
		})
	}
}

// ipv4TCP is an IPv4 packet with a TCP segment of seq and n bytes of payload, as the hosts path's
// records hold it.
func ipv4TCP(t *testing.T, seq uint32, syn bool, n int) []byte {
	t.Helper()
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: net.IP{198, 18, 0, 1}, DstIP: net.IP{198, 18, 0, 2}}
	tcp := &layers.TCP{SrcPort: 1, DstPort: 2, Seq: seq, SYN: syn, ACK: !syn, Window: 1000}
	require.NoError(t, tcp.SetNetworkLayerForChecksum(ip))
	buf := gopacket.NewSerializeBuffer()
	require.NoError(t, gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		ip, tcp, gopacket.Payload(make([]byte, n))))
	return buf.Bytes()
}

// TestSpans: after every add, overlap agrees with a plain set of offsets, and the ranges stay sorted,
// disjoint and apart.
func TestSpans(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		var s spans
		held := map[int64]bool{}
		for range 30 {
			lo := rng.Int64N(200) - 100
			hi := lo + rng.Int64N(40)
			s.add(lo, hi)
			for x := lo; x < hi; x++ {
				held[x] = true
			}
			for i := 1; i < len(s); i++ {
				require.Less(t, s[i-1].hi, s[i].lo, "round %d: %v", round, s)
			}
			qlo := rng.Int64N(260) - 130
			qhi := qlo + rng.Int64N(60)
			var want int64
			for x := qlo; x < qhi; x++ {
				if held[x] {
					want++
				}
			}
			require.Equal(t, want, s.overlap(qlo, qhi), "round %d: overlap(%d, %d) of %v", round, qlo, qhi, s)
		}
	}
}
