//go:build pcap

package capture

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	kcp "github.com/xtaci/kcp-go/v5"

	"kcplab/internal/dir"
	"kcplab/internal/traffictest"
)

// TestLiveTapEquivalence50k runs a bulk transfer of more than 50,000
// datagrams over one kcp-go session pair, captured at the same time by a tap
// (sockets wrapped) and by a Hub's Source: no datagram may be missing from
// either. The live list must equal the tap's (count, order per direction,
// bytes), and both must equal kcp-go's OutPkts and InPkts deltas (see
// TestTapLoadMatchesSnmp for why they are comparable). libpcap's drop
// counters must be 0: a drop would make the live list shorter.
//
// No rate limit is needed: kcp-go's window (1024 segments, set by
// tuneSession) bounds a burst to about 1,000 datagrams in flight, the ring
// holds about 32,700 loopback datagrams (see liveSnapLen), and the reader
// handles a frame in a few microseconds, even under -race.
//
// Not parallel: kcp.DefaultSnmp is global to the process.
func TestLiveTapEquivalence50k(t *testing.T) {
	hub := openTestHub(t)
	srvUDP, cliUDP := traffictest.Loopback(t), traffictest.Loopback(t)
	live, err := hub.Source(udpPort(srvUDP), udpPort(cliUDP))
	require.NoError(t, err)
	tap := NewTap()
	var taps []*Tap
	wrap := func(c net.PacketConn, side dir.Dir) net.PacketConn {
		tp := tap.WrapTap(c, side)
		taps = append(taps, tp)
		return live.Wrap(tp, side)
	}

	before := kcp.DefaultSnmp.Copy()
	p := newKCPPairOn(t, srvUDP, cliUDP, wrap)
	start := time.Now()
	bulkTransfer(t, p, 80<<20, 90*time.Second)
	took := time.Since(start)
	waitQuiet(t, tap.Notify(), 300*time.Millisecond, 30*time.Second)
	after := kcp.DefaultSnmp.Copy()
	want := tap.Datagrams()
	closeStart := time.Now()
	st, err := live.Close()
	closeTook := time.Since(closeStart)
	require.NoError(t, err)
	got := live.Datagrams()
	hubStats, err := hub.Close()
	require.NoError(t, err)

	require.Len(t, taps, 2)
	var sent, received uint64
	for _, tp := range taps {
		sent += tp.Sent()
		received += tp.Received()
	}
	outPkts, inPkts := after.OutPkts-before.OutPkts, after.InPkts-before.InPkts
	t.Logf("transfer %v: tap %d datagrams (client sent %d, server sent %d), live %d; snmp OutPkts %d InPkts %d RetransSegs %d",
		took.Round(time.Millisecond), len(want), taps[1].Sent(), taps[0].Sent(), len(got), outPkts, inPkts, after.RetransSegs-before.RetransSegs)
	t.Logf("libpcap while the Source was open: PacketsDropped %d, PacketsIfDropped %d, PacketsReceived %d; Source.Close %v; hub %+v",
		st.Dropped, st.IfDropped, st.Received, closeTook.Round(time.Microsecond), hubStats)

	require.GreaterOrEqual(t, sent, uint64(50000), "the transfer must produce at least 50,000 datagrams")
	assert.Zero(t, st.Dropped, "libpcap PacketsDropped")
	assert.Zero(t, st.IfDropped, "libpcap PacketsIfDropped")
	assert.Equal(t, outPkts, sent, "OutPkts vs taps' Sent")
	assert.Equal(t, inPkts, received, "InPkts vs taps' Received")
	assert.Zero(t, after.InErrs-before.InErrs, "InErrs")
	assert.Zero(t, after.KCPInErrors-before.KCPInErrors, "KCPInErrors")
	assert.Len(t, want, int(sent), "tap records each datagram once")
	assert.Equal(t, len(got), st.Captured)
	require.Len(t, got, len(want), "live and tap hold the same number of datagrams")
	assertSameByDirection(t, want, got)
}
