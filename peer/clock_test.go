package peer

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"kcplab/harness"
	"kcplab/harness/harnesstest"
)

// TestMeasureClockRecoversShift measures the clocks of peers whose clocks run a known amount off: each
// estimate is within its uncertainty of the true shift, and the correction is the estimate (0 for the
// peer that shares this process's clock).
func TestMeasureClockRecoversShift(t *testing.T) {
	t.Parallel()
	for _, shift := range []time.Duration{0, 250 * time.Millisecond, -3 * time.Second, 5 * time.Millisecond} {
		t.Run(shift.String(), func(t *testing.T) {
			t.Parallel()
			p := shiftedPipePeer(t, shift)
			c, err := p.MeasureClock(context.Background(), 0)
			require.NoError(t, err)
			assert.Equal(t, ClockSamples, c.Samples)
			assert.Equal(t, c, p.Clock())
			assert.Positive(t, c.Uncertainty)
			diff := c.Offset - shift
			assert.LessOrEqual(t, diff.Abs(), c.Uncertainty, "estimate %v of a shift of %v", c, shift)
			if shift == 0 {
				assert.Zero(t, c.Correction(), "%v", c)
			} else {
				assert.Equal(t, c.Offset, c.Correction())
			}
			id := p.Ident()
			require.NotNil(t, id.Clock)
			assert.Equal(t, int64(c.Offset), id.Clock.OffsetNs)
			assert.Equal(t, int64(c.Correction()), id.Clock.CorrectionNs)
		})
	}
}

// TestMeasureClockOfAPeerWithoutIt: a peer that does not know the clock request (the minimal peer of
// the README) is not measured, without an error, and its times are left as they are.
func TestMeasureClockOfAPeerWithoutIt(t *testing.T) {
	t.Parallel()
	p, err := StartPeer(exec.Command(minipeer(t)))
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, p.Close()) })
	c, err := p.MeasureClock(context.Background(), 3)
	require.NoError(t, err)
	assert.Zero(t, c.Samples)
	assert.Zero(t, c.Correction())
	assert.Nil(t, p.Ident().Clock)
	assert.Contains(t, c.String(), "not measured")
}

// TestRunPairCorrectsClocks runs pair trials between two peers whose clocks are off by seconds, in
// opposite directions: every trial still lands in its class (the ladder needs each datagram in its
// place between the two peers' records), the trace starts when the run did on this clock, and the
// summary reports each peer's offset.
func TestRunPairCorrectsClocks(t *testing.T) {
	t.Parallel()
	e := pingPong()
	srvShift, cliShift := 2*time.Second, -700*time.Millisecond
	srv, cli := shiftedPipePeer(t, srvShift, e), shiftedPipePeer(t, cliShift, e)
	t0 := time.Now()
	res, err := RunPair(context.Background(), e, harness.RunOptions{Trials: 4, Parallel: 2, KeepDir: t.TempDir()}, srv, cli)
	require.NoError(t, err)
	harnesstest.NoFailures(t, res)
	assert.Equal(t, 4, res.Counts["answered"])
	for _, tr := range res.Trials {
		require.NotNil(t, tr.Trace)
		assert.WithinRange(t, tr.Trace.Start, t0, time.Now(), "trial %d's start on this clock", tr.Trial)
		for _, d := range tr.Trace.Datagrams {
			assert.WithinDuration(t, tr.Trace.Start, d.Time, 2*time.Second, "trial %d", tr.Trial)
		}
	}
	s := PairSummary(res, srv, cli)
	for _, c := range []struct {
		id    *harness.PeerIdent
		shift time.Duration
	}{{s.ServerPeer, srvShift}, {s.ClientPeer, cliShift}} {
		require.NotNil(t, c.id.Clock)
		diff := time.Duration(c.id.Clock.OffsetNs) - c.shift
		assert.LessOrEqual(t, diff.Abs(), time.Duration(c.id.Clock.UncertaintyNs))
		assert.Equal(t, c.id.Clock.OffsetNs, c.id.Clock.CorrectionNs)
	}
}

// TestPeerBindsTheGivenAddress: listen and dial bind to the request's address (another loopback
// address here), 127.0.0.1 without one, and a bad address is an error.
func TestPeerBindsTheGivenAddress(t *testing.T) {
	t.Parallel()
	e := pingPong()
	srv, cli := pipePeer(t, e), pipePeer(t, e)
	srv.Bind, cli.Bind = "127.0.0.2", "127.0.0.3"
	res, err := RunPair(context.Background(), e, harness.RunOptions{Trials: 2, Parallel: 2, KeepDir: t.TempDir()}, srv, cli)
	require.NoError(t, err)
	harnesstest.NoFailures(t, res)
	for _, tr := range res.Trials {
		require.NotNil(t, tr.Trace)
		assert.Equal(t, "127.0.0.2", tr.Trace.Server.Addr().String())
		assert.Equal(t, "127.0.0.3", tr.Trace.Client.Addr().String())
	}
	assert.Equal(t, "127.0.0.2", PairSummary(res, srv, cli).ServerPeer.Bind)

	p := pipePeer(t, e)
	for _, tc := range []struct{ bind, want string }{{"", "127.0.0.1:"}, {"127.0.0.4", "127.0.0.4:"}} {
		id := pairTrialIDs.Add(1)
		r, err := p.Call(context.Background(), PeerMsg{Op: "listen", Exp: e.ID, Trial: id, Bind: tc.bind})
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(r.Addr, tc.want), "bind %q: %s", tc.bind, r.Addr)
		_, err = p.Call(context.Background(), PeerMsg{Op: "teardown", Trial: id})
		require.NoError(t, err)
	}
	_, err = p.Call(context.Background(), PeerMsg{Op: "listen", Exp: e.ID, Trial: pairTrialIDs.Add(1), Bind: "not-an-ip"})
	require.ErrorContains(t, err, "bind address")
}

// TestShiftTimesCopies: shifting a message moves every time in it and leaves the original's records
// as they were (a peer's teardown reply is kept and may be read again).
func TestShiftTimesCopies(t *testing.T) {
	t.Parallel()
	m := PeerMsg{StartNs: 10, NowNs: 20, Datagrams: []PeerDatagram{{TNs: 30}}, Events: []PeerEvent{{TNs: 40}},
		Stalls: []PeerStall{{FromNs: 50, ToNs: 60}}}
	got := shiftTimes(m, 5)
	assert.Equal(t, PeerMsg{StartNs: 15, NowNs: 25, Datagrams: []PeerDatagram{{TNs: 35}}, Events: []PeerEvent{{TNs: 45}},
		Stalls: []PeerStall{{FromNs: 55, ToNs: 65}}}, got)
	assert.Equal(t, int64(30), m.Datagrams[0].TNs)
	assert.Equal(t, int64(40), m.Events[0].TNs)
	assert.Equal(t, int64(50), m.Stalls[0].FromNs)
	assert.Equal(t, m, shiftTimes(m, 0))
}
