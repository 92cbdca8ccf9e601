package capture

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	kcp "github.com/xtaci/kcp-go/v5"

	"kcplab/internal/dir"
)

// TestTapLoadMatchesSnmp runs a bulk transfer of more than 50,000 datagrams
// over one tapped kcp-go session pair and checks the taps' counts against
// kcp.DefaultSnmp.
//
// Not parallel: DefaultSnmp is global to the process, so no other kcp-go test
// of this package may run at the same time (Go runs a non-parallel top-level
// test alone; the package's parallel tests start only after it).
//
// What is comparable, from kcp-go v5.6.72's source:
//   - OutPkts is added in tx (tx.go defaultTx, the only path under a Tap since
//     the batch path needs a *net.UDPConn) once per successful WriteTo of a
//     session's conn; the listener's sessions write through the listener's
//     conn. So OutPkts == sum of Tap.Sent over both taps.
//   - InPkts is added in UDPSession.kcpInput (sess.go:1028). The client reaches
//     it through readLoop -> packetInput (which first drops datagrams from a
//     foreign address, counted as InErrs, and, when closed, everything); the
//     listener reaches it through Listener.packetInput, which calls kcpInput of
//     the existing session, or of a new one, but silently drops datagrams
//     shorter than 24 bytes, with an unknown conv and sn != 0, or when the
//     accept backlog is full. None of these drops happens in this clean
//     transfer (asserted through InErrs and KCPInErrors), and the counts are
//     taken while both sessions are open and after traffic stopped, so
//     InPkts == sum of Tap.Received over both taps.
func TestTapLoadMatchesSnmp(t *testing.T) {
	src := NewTap()
	var taps []*Tap
	wrap := func(c net.PacketConn, side dir.Dir) net.PacketConn {
		tp := src.WrapTap(c, side)
		taps = append(taps, tp)
		return tp
	}
	before := kcp.DefaultSnmp.Copy()
	p := newKCPPair(t, wrap)
	bulkTransfer(t, p, 80<<20, 60*time.Second)
	waitQuiet(t, src.Notify(), 300*time.Millisecond, 30*time.Second)
	after := kcp.DefaultSnmp.Copy()

	require.Len(t, taps, 2)
	var sent, received uint64
	for _, tp := range taps {
		sent += tp.Sent()
		received += tp.Received()
	}
	t.Logf("datagrams: sent %d, received %d (client sent %d, server sent %d); snmp OutPkts %d InPkts %d RetransSegs %d",
		sent, received, taps[1].Sent(), taps[0].Sent(), after.OutPkts-before.OutPkts, after.InPkts-before.InPkts,
		after.RetransSegs-before.RetransSegs)
	require.GreaterOrEqual(t, sent, uint64(50000), "the transfer must produce at least 50,000 datagrams")
	assert.Equal(t, after.OutPkts-before.OutPkts, sent, "OutPkts vs taps' Sent")
	assert.Equal(t, after.InPkts-before.InPkts, received, "InPkts vs taps' Received")
	assert.Zero(t, after.InErrs-before.InErrs, "InErrs")
	assert.Zero(t, after.KCPInErrors-before.KCPInErrors, "KCPInErrors")

	// Every datagram crossed between two taps of the source: recorded once, at send.
	dgs := src.Datagrams()
	assert.Len(t, dgs, int(sent))
	bySide := map[dir.Dir]uint64{}
	for _, d := range dgs {
		bySide[d.Side]++
	}
	assert.Equal(t, taps[0].Sent(), bySide[dir.S2C])
	assert.Equal(t, taps[1].Sent(), bySide[dir.C2S])
	assert.Zero(t, bySide[dir.Unknown])
	st, err := src.Close()
	require.NoError(t, err)
	assert.Equal(t, Stats{Captured: len(dgs)}, st)
}
