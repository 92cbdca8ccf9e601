package harness

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	kcp "github.com/xtaci/kcp-go/v5"

	"kcplab/capture"
	"kcplab/internal/kcpgo"
)

// end is one end of a trial on a Lifecycle of its own, as a peer process runs it: a socket, a tap.
type end struct {
	lc   *Lifecycle
	sock *net.UDPConn
	tap  *capture.TapSource
}

func newEnd(t *testing.T, e *Experiment) *end {
	t.Helper()
	tap := capture.NewTap()
	lc, err := NewLifecycle(e, tap)
	require.NoError(t, err)
	sock, _, err := ListenLoopback()
	require.NoError(t, err)
	t.Cleanup(func() { sock.Close(); _, _ = tap.Close() })
	return &end{lc: lc, sock: sock, tap: tap}
}

// TestLifecycleSteps takes the lifecycle's steps for the two ends of a trial on two Lifecycles, as two
// peers do, and checks what each step reports and what Teardown returns.
func TestLifecycleSteps(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		server      Role
		settles     bool // Settle returns nil within its deadline
		tornDown    bool // the server role was still running at Teardown
		serverWrote string
	}{{
		name:        "ping-pong: the roles return, the wire settles",
		server:      pingPong().Server,
		settles:     true,
		serverWrote: "pong",
	}, {
		name: "a server role that never returns: Settle fails, Teardown ends it",
		server: func(c net.Conn) error {
			defer c.Close()
			buf := make([]byte, 64)
			if _, err := c.Read(buf); err != nil {
				return err
			}
			if _, err := c.Write([]byte("pong")); err != nil {
				return err
			}
			_, err := c.Read(buf) // blocks until Teardown closes the session
			return err
		},
		tornDown:    true,
		serverWrote: "pong",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := pingPong()
			e.Server = tc.server
			srv, cli := newEnd(t, e), newEnd(t, e)

			returned, err := srv.lc.WaitClient(context.Background())
			assert.True(t, returned, "an end that dialed nothing has no client role to wait for")
			assert.NoError(t, err)
			assert.False(t, srv.lc.Close(), "an end that dialed nothing has no client session to close")

			require.NoError(t, srv.lc.Listen(srv.tap.Wrap(srv.sock, Server)))
			start, err := cli.lc.Dial(srv.sock.LocalAddr().(*net.UDPAddr).AddrPort(), cli.tap.Wrap(cli.sock, Client))
			require.NoError(t, err)
			assert.WithinDuration(t, time.Now(), start, 5*time.Second)

			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			returned, err = cli.lc.WaitClient(ctx)
			require.True(t, returned, "the client role returns")
			assert.NoError(t, err)
			assert.False(t, cli.lc.Close(), "the role closed its session")

			deadline := 3 * time.Second // plenty for roles that return
			if !tc.settles {
				deadline = 300 * time.Millisecond
			}
			sctx, scancel := context.WithTimeout(context.Background(), deadline)
			defer scancel()
			err = srv.lc.Settle(sctx, e.QuietPeriod())
			if tc.settles {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, errServerRunning)
			}

			ended := srv.lc.Teardown()
			assert.Equal(t, 1, ended.Accepts)
			assert.Equal(t, []bool{tc.tornDown}, ended.TornDown)
			require.Len(t, ended.ServerErr, 1)
			assert.Equal(t, tc.tornDown, ended.ServerErr[0] != nil, "%v", ended.ServerErr[0])
			tr := &Trace{Events: ended.Events}
			assert.Equal(t, tc.serverWrote, string(tr.BytesWritten(Server, 1)))
			_, accepted := tr.EventAt(func(ev Event) bool { return ev.Kind == EvAccept && ev.Session == 1 })
			assert.True(t, accepted)

			cliEnded := cli.lc.Teardown()
			assert.Zero(t, cliEnded.Accepts)
			tr = &Trace{Events: cliEnded.Events}
			assert.Equal(t, "pong", string(tr.BytesRead(Client, 0)))
			require.NotEmpty(t, cliEnded.Events)
			assert.Equal(t, EvDial, cliEnded.Events[0].Kind)
			assert.True(t, cliEnded.Events[0].Time.Equal(start), "the Dial event is at the session's creation")
			srv.lc.StopProbe()
			cli.lc.StopProbe()
		})
	}
}

// TestDialOriginPrecedesSession stalls the process 20 ms inside the session's creation, after kcp-go
// created the session and scheduled its update ticks: Dial's origin is still no later than the moment
// the creation began, so a tick measured from it is never early (a stall makes it late). An origin
// taken after the creation returned would fall the stall's 20 ms after it.
func TestDialOriginPrecedesSession(t *testing.T) {
	t.Parallel()
	const stall = 20 * time.Millisecond
	e := pingPong()
	srv, cli := newEnd(t, e), newEnd(t, e)
	var began time.Time
	cli.lc.dialOn = func(conv uint32, raddr net.Addr, block kcp.BlockCrypt, ds, ps int, conn net.PacketConn) (*kcp.UDPSession, net.Conn, error) {
		began = time.Now()
		s, c, err := kcpgo.DialOn(conv, raddr, block, ds, ps, conn)
		time.Sleep(stall) // the stall: the session exists, its first tick is scheduled
		return s, c, err
	}
	require.NoError(t, srv.lc.Listen(srv.tap.Wrap(srv.sock, Server)))
	start, err := cli.lc.Dial(srv.sock.LocalAddr().(*net.UDPAddr).AddrPort(), cli.tap.Wrap(cli.sock, Client))
	require.NoError(t, err)
	t.Cleanup(func() {
		cli.lc.Close()
		cli.lc.Teardown()
		srv.lc.Teardown()
		srv.lc.StopProbe()
		cli.lc.StopProbe()
	})
	require.False(t, began.IsZero(), "Dial creates the session through dialOn")
	assert.False(t, start.After(began), "the origin %v is after the session's creation began (%v later)", start, start.Sub(began))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	returned, err := cli.lc.WaitClient(ctx)
	require.True(t, returned, "the client role returns")
	assert.NoError(t, err, "the stalled session still works")
}
