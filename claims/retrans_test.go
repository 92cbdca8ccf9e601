package claims

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"kcplab/internal/dir"
	"kcplab/kcpwire"
	"kcplab/link"
)

// TestRetransOf: on the link's records of an exchange (sn 0's first copy dropped and sent again; sn 1
// sent again before its first copy's ACK came back, so spuriously), both paths' payloads give the
// same counts; a hosts path packet that is not IPv4 UDP is left out.
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
	}
	want := Retrans{Pushes: 5, Again: 2, Spurious: 1, Dropped: 1, Datagrams: len(exchange)}
	for _, path := range []Path{Loopback, Hosts} {
		t.Run(path.String(), func(t *testing.T) {
			t.Parallel()
			var recs []link.Record
			for i, e := range exchange {
				p := e.payload
				if path == Hosts {
					p = ipv4UDP(p)
				}
				recs = append(recs, link.Record{Dir: e.d, At: time.Duration(i) * 100 * time.Millisecond, Fate: e.fate, Payload: p})
			}
			if path == Hosts {
				icmp := ipv4UDP(seg(kcpwire.CmdPush, 5, 0, "x"))
				icmp[9] = 1
				recs = append(recs, link.Record{Dir: dir.S2C, At: time.Second, Fate: link.FateDelivered, Payload: icmp})
			}
			assert.Equal(t, want, retransOf(recs, path))
		})
	}
}

// ipv4UDP wraps payload in IPv4 (20 bytes) and UDP headers, as the hosts path's records hold it.
func ipv4UDP(payload []byte) []byte {
	p := make([]byte, 28, 28+len(payload))
	p[0], p[8], p[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(p[2:], uint16(28+len(payload)))
	binary.BigEndian.PutUint16(p[24:], uint16(8+len(payload)))
	return append(p, payload...)
}

// TestCheckHoldsRetransmissionsToDrops: a case's check fails when KCP sent again fewer PUSH segments
// than the link dropped (every message arrived, so each dropped copy had a later one), or when a
// datagram KCP wrote did not decode as KCP.
func TestCheckHoldsRetransmissionsToDrops(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		retrans Retrans
		want    string // "" for no error
	}{
		{"every dropped PUSH sent again", Retrans{Pushes: 6, Again: 2, Dropped: 2, Datagrams: 4}, ""},
		{"a dropped PUSH never sent again", Retrans{Pushes: 6, Again: 1, Dropped: 2, Datagrams: 4}, "the link dropped 2 PUSH segments, KCP sent only 1 again"},
		{"a datagram that is not KCP", Retrans{Pushes: 6, Datagrams: 3}, "KCP wrote 4 datagrams, 3 of them decoded as KCP"},
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
