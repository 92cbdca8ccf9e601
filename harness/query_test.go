package harness

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"kcplab/kcpwire"
)

// queryTrace is a trace of one exchange whose response the link dropped once: request, its ACK, the
// response (dropped), the response again, its ACK.
func queryTrace() *Trace {
	seg := func(ms int, d Dir, c kcpwire.Cmd, sn uint32, dropped string) Seg {
		return Seg{Segment: kcpwire.Segment{Cmd: c, Sn: sn}, Time: time.Duration(ms) * time.Millisecond, Dir: d, Dropped: dropped}
	}
	return &Trace{Segments: []Seg{
		seg(0, C2S, kcpwire.CmdPush, 0, ""),
		seg(1, S2C, kcpwire.CmdAck, 0, ""),
		seg(2, S2C, kcpwire.CmdPush, 0, "loss"),
		seg(202, S2C, kcpwire.CmdPush, 0, ""),
		seg(203, C2S, kcpwire.CmdAck, 0, ""),
	}}
}

func TestSegs(t *testing.T) {
	t.Parallel()
	tr := queryTrace()
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	for _, tc := range []struct {
		name string
		got  Segs
		want []time.Duration
	}{
		{"all", tr.Segs(), ms(0, 1, 2, 202, 203)},
		{"by direction", tr.Segs().Dir(S2C), ms(1, 2, 202)},
		{"by direction and cmd", tr.Segs().Dir(S2C).Cmd(kcpwire.CmdPush), ms(2, 202)},
		{"by sn", tr.Segs().Sn(1), ms()},
		{"on the wire", tr.Segs().Dir(S2C).Cmd(kcpwire.CmdPush).OnWire(), ms(202)},
		{"dropped by the link", tr.Segs().DroppedByLink(), ms(2)},
		{"after a time", tr.Segs().After(2 * time.Millisecond), ms(202, 203)},
		{"where", tr.Segs().Where(func(s Seg) bool { return s.Cmd == kcpwire.CmdAck }), ms(1, 203)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, tc.got.Times())
		})
	}
	t.Run("first", func(t *testing.T) {
		t.Parallel()
		s, ok := tr.Segs().Dir(C2S).Cmd(kcpwire.CmdAck).First()
		require.True(t, ok)
		assert.Equal(t, 203*time.Millisecond, s.Time)
		_, ok = tr.Segs().Sn(7).First()
		assert.False(t, ok)
	})
}

// TestResultQuantile: a measure's values over a class's successful trials, sorted; failed trials,
// other classes and trials without a value do not count.
func TestResultQuantile(t *testing.T) {
	t.Parallel()
	a, b := Class{Name: "a"}, Class{Name: "b"}
	accepts := Measure{Name: "accepts", Fn: func(tr *Trace) (float64, bool) { return float64(tr.Accepts), true }}
	noValue := Measure{Name: "never", Fn: func(*Trace) (float64, bool) { return 0, false }}
	r := &Result{Trials: []TrialResult{
		{Class: a, Trace: &Trace{Accepts: 3}},
		{Class: a, Trace: &Trace{Accepts: 1}},
		{Class: b, Trace: &Trace{Accepts: 9}},
		{Class: a, Trace: &Trace{Accepts: 2}},
		{Class: a, Trace: &Trace{Accepts: 8}, Err: errors.New("failed")},
		{Class: a, Trace: &Trace{Accepts: 4}},
	}}
	assert.Equal(t, []float64{1, 2, 3, 4}, r.Values(a, accepts))
	for _, tc := range []struct {
		name  string
		c     Class
		m     Measure
		q     float64
		want  float64
		wantN int
	}{
		{"median", a, accepts, 0.5, 2.5, 4},
		{"largest", a, accepts, 1, 4, 4},
		{"another class", b, accepts, 0.5, 9, 1},
		{"no values", a, noValue, 0.5, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, n := r.Quantile(tc.c, tc.m, tc.q)
			assert.InDelta(t, tc.want, got, 1e-9)
			assert.Equal(t, tc.wantN, n)
		})
	}
}

func TestEventAfter(t *testing.T) {
	t.Parallel()
	t0 := time.Now()
	ev := func(ms int, side Side, k EventKind) Event {
		return Event{Time: t0.Add(time.Duration(ms) * time.Millisecond), Side: side, Kind: k}
	}
	tr := &Trace{Events: []Event{
		ev(0, Client, EvDial), ev(1, Client, EvRead), ev(5, Server, EvKill), ev(9, Client, EvWrite), ev(10, Client, EvRead),
	}}
	for _, tc := range []struct {
		name     string
		from, to func(Event) bool
		wantAt   int // ms, or -1 for none
	}{
		{"the first match after from", EventIs(Server, EvKill), EventIs(Client, EvRead), 10},
		{"from never happened", EventIs(Server, EvRestart), EventIs(Client, EvRead), -1},
		{"nothing matches after from", EventIs(Client, EvWrite), EventIs(Client, EvWrite), -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, ok := tr.EventAfter(tc.from, tc.to)
			if tc.wantAt < 0 {
				assert.False(t, ok, "%s", e)
				return
			}
			require.True(t, ok)
			assert.Equal(t, t0.Add(time.Duration(tc.wantAt)*time.Millisecond), e.Time)
		})
	}
}

// TestStraySocket: a role's stray socket sends a KCP PUSH of another conv to the listener, which
// accepts it as server#2 with the stray's address (ServerPeer), below the ephemeral range; the
// segments between them have no direction; the teardown closes the socket, and after it
// StraySocket fails.
func TestStraySocket(t *testing.T) {
	t.Parallel()
	var (
		env   *Env
		stray *net.UDPConn
	)
	e := envExperiment(func(en *Env, c net.Conn) error {
		env = en
		sock, err := en.StraySocket()
		if err != nil {
			return err
		}
		stray = sock
		push := kcpwire.Segment{Conv: 0x5752a7, Cmd: kcpwire.CmdPush, Wnd: 32, Data: []byte("ping")}
		_, err = sock.WriteToUDP(push.AppendTo(nil), c.RemoteAddr().(*net.UDPAddr))
		return err
	})
	tr, err := RunTrial(context.Background(), e, 1, TapOpener, 1)
	require.NoError(t, err)
	require.NoError(t, tr.ClientErr, "\n%s", tr.Timeline())
	require.NotNil(t, stray)
	strayAddr := peerOf(stray.LocalAddr())

	require.Equal(t, 2, tr.Accepts, "\n%s", tr.Timeline())
	for _, tc := range []struct {
		n    int
		want netip.AddrPort
		ok   bool
	}{{1, tr.Client, true}, {2, strayAddr, true}, {3, netip.AddrPort{}, false}} {
		got, ok := tr.ServerPeer(tc.n)
		assert.Equal(t, tc.ok, ok, "server#%d", tc.n)
		assert.Equal(t, tc.want, got, "server#%d", tc.n)
	}
	assert.Equal(t, "ping", string(tr.BytesRead(Server, 2)))
	if lo := ephemeralLow(); lo > 2048 {
		assert.Less(t, int(strayAddr.Port()), lo, "the stray's port is below the ephemeral range")
	}
	assert.NotEmpty(t, tr.Segs().Dir(DirUnknown).Cmd(kcpwire.CmdPush), "the stray's PUSH and the answer, undirected")

	_, err = stray.WriteToUDP([]byte{0}, net.UDPAddrFromAddrPort(tr.Server))
	assert.ErrorIs(t, err, net.ErrClosed, "the teardown closed the stray socket")
	_, err = env.StraySocket()
	assert.ErrorIs(t, err, ErrTornDown)
}
