package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"kcplab/internal/kcpleak"
	"kcplab/kcpwire"
)

// ping writes "ping" on c and reads the 4-byte answer within d.
func ping(c net.Conn, d time.Duration) error {
	if _, err := c.Write([]byte("ping")); err != nil {
		return err
	}
	_ = c.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	if string(buf) != "pong" {
		return fmt.Errorf("read %q", buf)
	}
	return nil
}

// envExperiment is pingPong with a server that answers every "ping" with "pong" until a Read fails,
// and a client that pings, lets the ACKs settle, then does what act says through its Env.
func envExperiment(act func(env *Env, c net.Conn) error) *Experiment {
	e := pingPong()
	e.ID = "env"
	e.Server = func(c net.Conn) error {
		defer c.Close()
		buf := make([]byte, 64)
		for {
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			if _, err := c.Read(buf); err != nil {
				return err
			}
			if _, err := c.Write([]byte("pong")); err != nil {
				return err
			}
		}
	}
	e.Client = func(c net.Conn) error {
		defer c.Close()
		env, ok := EnvOf(c)
		if !ok {
			return errors.New("no Env")
		}
		if err := ping(c, time.Second); err != nil {
			return err
		}
		time.Sleep(150 * time.Millisecond) // the client's ACK of the pong leaves at its next tick
		return act(env, c)
	}
	e.Invariants = nil
	return e
}

// afterEvent returns the segments captured after the first event of kind.
func afterEvent(tr *Trace, kind EventKind) []Seg {
	at, ok := tr.EventAt(func(e Event) bool { return e.Kind == kind })
	if !ok {
		return nil
	}
	var out []Seg
	for _, s := range tr.Segments {
		if s.Time > at {
			out = append(out, s)
		}
	}
	return out
}

func TestEnv(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		act   func(env *Env, c net.Conn) error
		check func(t *testing.T, tr *Trace)
	}{{
		name: "kill: nothing more from the server, the client's write goes unanswered",
		act: func(env *Env, c net.Conn) error {
			if err := env.KillServer(); err != nil {
				return err
			}
			if err := env.KillServer(); err == nil {
				return errors.New("a second KillServer succeeded")
			}
			if err := ping(c, 400*time.Millisecond); !IsTimeout(err) {
				return fmt.Errorf("ping after the kill: %v, want timeout", err)
			}
			return nil
		},
		check: func(t *testing.T, tr *Trace) {
			after := afterEvent(tr, EvKill)
			require.NotEmpty(t, after, "the client's ping after the kill")
			for _, s := range after {
				assert.Equal(t, C2S, s.Dir, "%s", s)
				assert.Equal(t, kcpwire.CmdPush, s.Cmd, "%s", s)
			}
			assert.Equal(t, 1, tr.Accepts)
			require.NotEmpty(t, tr.ServerErr)
			assert.Error(t, tr.ServerErr[0], "the old session's Read fails on the closed socket")
		},
	}, {
		name: "restart: a new listener on the same port accepts the next session",
		act: func(env *Env, c net.Conn) error {
			if err := env.RestartServer(); err == nil {
				return errors.New("RestartServer succeeded with the server running")
			}
			if err := env.KillServer(); err != nil {
				return err
			}
			if err := env.RestartServer(); err != nil {
				return err
			}
			c2, err := env.Redial()
			if err != nil {
				return err
			}
			defer c2.Close()
			return ping(c2, time.Second)
		},
		check: func(t *testing.T, tr *Trace) {
			assert.Equal(t, 2, tr.Accepts)
			assert.Equal(t, "pong", string(tr.BytesWritten(Server, 2)))
			assert.Equal(t, "pong", string(tr.BytesRead(Client, 0)[4:]))
			_, restarted := tr.EventAt(func(e Event) bool { return e.Kind == EvRestart })
			assert.True(t, restarted)
			for _, s := range afterEvent(tr, EvRestart) {
				assert.NotEqual(t, DirUnknown, s.Dir, "same addresses after the restart: %s", s)
			}
		},
	}, {
		name: "redial: a new session from the same port replaces the old one at the listener",
		act: func(env *Env, c net.Conn) error {
			if err := c.Close(); err != nil {
				return err
			}
			c2, err := env.Redial()
			if err != nil {
				return err
			}
			if err := ping(c2, time.Second); err != nil {
				return err
			}
			c3, err := env.Redial() // leaves c2's socket closed under it, and c3 open for teardown
			if err != nil {
				return err
			}
			return ping(c3, time.Second)
		},
		check: func(t *testing.T, tr *Trace) {
			assert.Equal(t, 3, tr.Accepts)
			assert.Equal(t, "ping", string(tr.BytesWritten(Client, 0)[:4]))
			for s := 1; s <= 3; s++ {
				assert.Equal(t, "ping", string(tr.BytesRead(Server, s)), "server#%d", s)
			}
			for s := 1; s <= 3; s++ {
				var read []byte
				for _, e := range tr.ClientEvents(s) {
					if e.Kind == EvRead && e.Err == nil {
						read = append(read, e.Data...)
					}
				}
				assert.Equal(t, "pong", string(read), "client session %d", s)
			}
			var who []string
			for _, e := range tr.ClientEvents(0) {
				if e.Kind == EvDial {
					who = append(who, e.Who())
				}
			}
			assert.Equal(t, []string{"client", "client#2", "client#3"}, who)
			// the listener closed server#1 when the redialed session's sn=0 came from the same address
			require.Len(t, tr.ServerErr, 3)
			assert.True(t, errors.Is(tr.ServerErr[0], io.ErrClosedPipe), "server#1: %v", tr.ServerErr[0])
			for _, s := range tr.Segments {
				assert.NotEqual(t, DirUnknown, s.Dir, "%s", s)
			}
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tr, err := RunTrial(context.Background(), envExperiment(tc.act), 1, TapOpener, 1)
			require.NoError(t, err)
			require.NoError(t, tr.ClientErr, "\n%s", tr.Timeline())
			tc.check(t, tr)
		})
	}
}

// TestEnvLateServer: with NoListener, RestartServer starts the server late on the port that nobody
// read; KillServer has nothing to kill. The request, unanswered until then, is retransmitted (initial
// RTO 200 ms) and the copy that reaches the new listener makes a session that answers it.
func TestEnvLateServer(t *testing.T) {
	t.Parallel()
	e := envExperiment(nil)
	e.NoListener = true
	e.Client = func(c net.Conn) error {
		defer c.Close()
		env, ok := EnvOf(c)
		if !ok {
			return errors.New("no Env")
		}
		if err := env.KillServer(); err == nil {
			return errors.New("KillServer succeeded with no listener")
		}
		if _, err := c.Write([]byte("ping")); err != nil {
			return err
		}
		time.Sleep(50 * time.Millisecond)
		if err := env.RestartServer(); err != nil {
			return err
		}
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 4)
		if _, err := io.ReadFull(c, buf); err != nil {
			return err
		}
		time.Sleep(150 * time.Millisecond)
		return nil
	}
	tr, err := RunTrial(context.Background(), e, 1, TapOpener, 1)
	require.NoError(t, err)
	require.NoError(t, tr.ClientErr, "\n%s", tr.Timeline())
	assert.Equal(t, 1, tr.Accepts)
	assert.Equal(t, "ping", string(tr.BytesRead(Server, 1)))
	assert.Equal(t, "pong", string(tr.BytesRead(Client, 0)))
	pushes := 0
	for _, s := range tr.Segments {
		if s.Dir == C2S && s.Cmd == kcpwire.CmdPush {
			pushes++
		}
	}
	assert.GreaterOrEqual(t, pushes, 2, "the request before the server started, and its retransmission")
}

// TestEnvTornDown: once teardown has begun, every Env method fails.
func TestEnvTornDown(t *testing.T) {
	t.Parallel()
	var env *Env
	e := envExperiment(func(e *Env, c net.Conn) error { env = e; return nil })
	_, err := RunTrial(context.Background(), e, 1, TapOpener, 1)
	require.NoError(t, err)
	require.NotNil(t, env)
	assert.ErrorIs(t, env.KillServer(), ErrTornDown)
	assert.ErrorIs(t, env.RestartServer(), ErrTornDown)
	_, err = env.Redial()
	assert.ErrorIs(t, err, ErrTornDown)
}

// TestEnvLeaksNothing: the sockets and goroutines of killed, restarted and redialed sessions all end
// with the trials. Not parallel: it counts the process's goroutines and file descriptors.
func TestEnvLeaksNothing(t *testing.T) {
	kcpleak.LeaksNothing(t)
	e := envExperiment(func(env *Env, c net.Conn) error {
		if err := env.KillServer(); err != nil {
			return err
		}
		if err := env.RestartServer(); err != nil {
			return err
		}
		c2, err := env.Redial() // c's socket closed under it; c2 left open for teardown
		if err != nil {
			return err
		}
		return ping(c2, time.Second)
	})
	e.Trials = 8
	res, err := Run(context.Background(), e, RunOptions{Trials: 8, Parallel: 4, KeepDir: t.TempDir(), Discover: true})
	require.NoError(t, err)
	noFailedTrials(t, res)
}
