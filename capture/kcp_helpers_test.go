package capture

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	kcp "github.com/xtaci/kcp-go/v5"

	"kcplab/internal/dir"
	"kcplab/internal/traffictest"
)

// wrapFunc wraps a socket of a side (identity, a tap, a live source ...).
type wrapFunc func(conn net.PacketConn, side dir.Dir) net.PacketConn

// noWrap leaves the real *net.UDPConn (kcp-go's batch path stays on).
func noWrap(conn net.PacketConn, _ dir.Dir) net.PacketConn { return conn }

// plainConn hides everything but net.PacketConn, so kcp-go uses one datagram
// per syscall like under a Tap, without recording.
type plainConn struct{ net.PacketConn }

func unbatched(conn net.PacketConn, _ dir.Dir) net.PacketConn { return plainConn{conn} }

// kcpPair is one kcp-go server (ServeConn) and client (NewConn3) over
// 127.0.0.1 UDP sockets, both created through wrap.
type kcpPair struct {
	srvUDP, cliUDP *net.UDPConn
	listener       *kcp.Listener
	client         *kcp.UDPSession
	server         chan *kcp.UDPSession // the accepted session, for cleanup
}

// tuneSession sets the bulk-transfer options used by the tests.
func tuneSession(s *kcp.UDPSession) {
	s.SetWindowSize(1024, 1024)
	s.SetNoDelay(1, 10, 2, 1)
}

// newKCPPair starts a listener and a client session; cleanup closes sessions
// before sockets.
func newKCPPair(tb testing.TB, wrap wrapFunc) *kcpPair {
	tb.Helper()
	return newKCPPairOn(tb, traffictest.Loopback(tb), traffictest.Loopback(tb), wrap)
}

// newKCPPairOn is newKCPPair on sockets the caller bound (and the pair's cleanup closes).
func newKCPPairOn(tb testing.TB, srvUDP, cliUDP *net.UDPConn, wrap wrapFunc) *kcpPair {
	tb.Helper()
	p := &kcpPair{srvUDP: srvUDP, cliUDP: cliUDP}
	for _, c := range []*net.UDPConn{srvUDP, cliUDP} { // same buffers whatever the wrapper
		require.NoError(tb, c.SetReadBuffer(4<<20))
		require.NoError(tb, c.SetWriteBuffer(4<<20))
	}
	srv := wrap(p.srvUDP, dir.S2C)
	cli := wrap(p.cliUDP, dir.C2S)
	l, err := kcp.ServeConn(nil, 0, 0, srv)
	require.NoError(tb, err)
	p.listener = l
	c, err := kcp.NewConn3(0x4b43504c, p.srvUDP.LocalAddr(), nil, 0, 0, cli)
	require.NoError(tb, err)
	tuneSession(c)
	p.client = c
	p.server = make(chan *kcp.UDPSession, 1)
	tb.Cleanup(p.close)
	return p
}

// close shuts the pair down so that no kcp-go goroutine survives: the sockets
// first (kcp-go's read loops end on the read error), then every session the
// listener queued, including phantom sessions made by late datagrams, then the
// accepted session and the listener.
func (p *kcpPair) close() {
	_ = p.client.Close()
	_ = p.cliUDP.Close()
	_ = p.srvUDP.Close()
	_ = p.listener.SetDeadline(time.Now().Add(5 * time.Second))
	// After the socket error AcceptKCP picks at random between a queued session
	// and the error, so 32 errors in a row mean the queue is empty (p > 1-2^-32).
	for misses := 0; misses < 32; {
		s, err := p.listener.AcceptKCP()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				break
			}
			misses++
			continue
		}
		misses = 0
		_ = s.Close()
	}
	select {
	case s := <-p.server:
		_ = s.Close()
	default:
	}
	_ = p.listener.Close()
}

// serve accepts one session and runs fn on it, returning fn's error on the
// channel. Call it once per pair.
func (p *kcpPair) serve(timeout time.Duration, fn func(s *kcp.UDPSession) error) <-chan error {
	done := make(chan error, 1)
	go func() {
		if err := p.listener.SetDeadline(time.Now().Add(timeout)); err != nil {
			done <- err
			return
		}
		s, err := p.listener.AcceptKCP()
		if err != nil {
			done <- fmt.Errorf("accept: %w", err)
			return
		}
		p.server <- s // closed by cleanup, after the sockets, so late datagrams make no phantom session
		tuneSession(s)
		if err := s.SetDeadline(time.Now().Add(timeout)); err != nil {
			done <- err
			return
		}
		done <- fn(s)
	}()
	return done
}

// bulkTransfer sends total bytes client to server in 64 KiB writes; the server
// answers "done" after reading them all.
func bulkTransfer(tb testing.TB, p *kcpPair, total int, timeout time.Duration) {
	tb.Helper()
	done := p.serve(timeout, func(s *kcp.UDPSession) error {
		buf := make([]byte, 64<<10)
		got := 0
		for got < total {
			n, err := s.Read(buf)
			if err != nil {
				return fmt.Errorf("server read after %d of %d bytes: %w", got, total, err)
			}
			got += n
		}
		_, err := s.Write([]byte("done"))
		return err
	})
	require.NoError(tb, p.client.SetDeadline(time.Now().Add(timeout)))
	chunk := bytes.Repeat([]byte("kcplab-capture-"), (64<<10)/15)
	for sent := 0; sent < total; {
		n := min(len(chunk), total-sent)
		_, err := p.client.Write(chunk[:n])
		require.NoError(tb, err)
		sent += n
	}
	reply := make([]byte, 16)
	n, err := p.client.Read(reply)
	require.NoError(tb, err)
	require.Equal(tb, "done", string(reply[:n]))
	require.NoError(tb, <-done)
}

// echo sends each message and expects it back from an echo server. kcp-go
// splits a write into MSS-sized messages, so the server echoes what it reads
// until it has echoed every byte.
func echo(tb testing.TB, p *kcpPair, msgs [][]byte, timeout time.Duration) {
	tb.Helper()
	total := 0
	for _, m := range msgs {
		total += len(m)
	}
	done := p.serve(timeout, func(s *kcp.UDPSession) error { return traffictest.Echo(s, total) })
	require.NoError(tb, p.client.SetDeadline(time.Now().Add(timeout)))
	buf := make([]byte, 64<<10)
	for _, m := range msgs {
		_, err := p.client.Write(m)
		require.NoError(tb, err)
		n, err := io.ReadAtLeast(p.client, buf, len(m))
		require.NoError(tb, err)
		require.Equal(tb, m, buf[:n])
	}
	require.NoError(tb, <-done)
}

// waitQuiet returns once notify has been silent for quiet (WaitQuiet), failing after limit.
// It waits on the capture's own events, so it ends as soon as traffic stops.
func waitQuiet(tb testing.TB, notify <-chan struct{}, quiet, limit time.Duration) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	require.NoError(tb, WaitQuiet(ctx, notify, quiet, nil), "traffic did not stop within %v", limit)
}
