package kcpgo

import (
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"kcplab/internal/traffictest"
)

// TestDialOnAndServeOnOwnership: the client's Close closes its socket (DialOn owns it) and the
// listener's Close leaves its socket open (ServeOn does not own it), on the linked release with this
// build's shims.
func TestDialOnAndServeOnOwnership(t *testing.T) {
	WarmWorkers() // no session closes while kcp-go's worker pool starts (workers.go)
	t.Parallel()
	srv, cli := traffictest.Loopback(t), traffictest.Loopback(t)
	ln, err := ServeOn(nil, 0, 0, srv)
	require.NoError(t, err)
	conv, err := RandomConv()
	require.NoError(t, err)
	_, c, err := DialOn(conv, srv.LocalAddr(), nil, 0, 0, cli)
	require.NoError(t, err)
	_, err = c.Write([]byte("hello"))
	require.NoError(t, err)
	require.NoError(t, ln.SetDeadline(time.Now().Add(5*time.Second)))
	s, err := ln.AcceptKCP()
	require.NoError(t, err)
	buf := make([]byte, 16)
	require.NoError(t, s.SetReadDeadline(time.Now().Add(5*time.Second)))
	n, err := s.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "hello", string(buf[:n]))

	require.NoError(t, c.Close())
	_, err = cli.WriteTo([]byte{0}, srv.LocalAddr())
	assert.ErrorIs(t, err, net.ErrClosed, "the client's socket after its session's Close")

	require.NoError(t, s.Close())
	require.NoError(t, ln.Close())
	_, err = srv.WriteTo([]byte{0}, cli.LocalAddr())
	assert.NoError(t, err, "the listener's socket after the listener's Close")
}

// timeoutErr is a net.Error whose Timeout is true, as a socket's deadline returns.
type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// TestIsTimeout: a net.Error timeout is a timeout on every build, however wrapped; other errors are not,
// but for the plain "timeout" of releases without timeoutError on the build for them (plainTimeoutText);
// and a kcp-go session's own deadline error is, on the linked release with this build's shims.
func TestIsTimeout(t *testing.T) {
	WarmWorkers() // no session closes while kcp-go's worker pool starts (workers.go)
	t.Parallel()
	srv, cli := traffictest.Loopback(t), traffictest.Loopback(t)
	conv, err := RandomConv()
	require.NoError(t, err)
	s, c, err := DialOn(conv, srv.LocalAddr(), nil, 0, 0, cli)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	require.NoError(t, s.SetReadDeadline(time.Now().Add(-time.Second)))
	_, sessionErr := s.Read(make([]byte, 1))
	require.Error(t, sessionErr)

	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"net.Error timeout", timeoutErr{}, true},
		{"wrapped net.Error timeout", fmt.Errorf("read: %w", timeoutErr{}), true},
		{"EOF-like", errors.New("broken pipe"), false},
		{"closed", net.ErrClosed, false},
		{"a session's deadline", sessionErr, true},
		{`"timeout"`, errors.New("timeout"), plainTimeoutText},
		{`wrapped "timeout"`, fmt.Errorf("read: %w", errors.New("timeout")), plainTimeoutText},
		{"other text", fmt.Errorf("read: %w", errors.New("timeouts")), false},
		{"outer text only", fmt.Errorf("timeout: %w", errors.New("refused")), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, IsTimeout(tc.err), "%v", tc.err)
		})
	}
}
