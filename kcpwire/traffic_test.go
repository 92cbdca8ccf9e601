package kcpwire

import (
	"bytes"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	kcp "github.com/xtaci/kcp-go/v5"

	"kcplab/internal/traffictest"
)

// recorder keeps a copy of every datagram written through a tapConn.
type recorder struct {
	mu   sync.Mutex
	pkts [][]byte
}

func (r *recorder) add(p []byte) {
	cp := bytes.Clone(p)
	r.mu.Lock()
	r.pkts = append(r.pkts, cp)
	r.mu.Unlock()
}

func (r *recorder) all() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.pkts...)
}

// tapConn is a net.PacketConn that records what it sends. Embedding the
// interface (not *net.UDPConn) hides the batch-IO methods, so kcp-go uses
// plain ReadFrom/WriteTo on it.
type tapConn struct {
	net.PacketConn
	rec *recorder
}

func (c tapConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	n, err := c.PacketConn.WriteTo(p, addr)
	if err == nil {
		c.rec.add(p[:n])
	}
	return n, err
}

// trafficCase is one kind of kcp-go session.
type trafficCase struct {
	name   string
	crypt  func() (kcp.BlockCrypt, error) // nil: no encryption
	ds, ps int                            // FEC shards (0, 0: off)
	oob    bool                           // also send OOB packets (needs FEC)
	want   Framing                        // framing of every datagram
}

var testKey = []byte("kcplab-kcpwire-test-key-32-bytes")[:32]

// trafficCases are the kinds of kcp-go traffic Guess must get right.
var trafficCases = []trafficCase{
	{name: "plain", want: FramingPlain},
	{name: "fec", ds: 10, ps: 3, oob: true, want: FramingFEC},
	{name: "aes-cfb", crypt: func() (kcp.BlockCrypt, error) { return kcp.NewAESBlockCrypt(testKey) }, want: FramingEncrypted},
	{name: "aes-cfb+fec", crypt: func() (kcp.BlockCrypt, error) { return kcp.NewAESBlockCrypt(testKey) }, ds: 10, ps: 3, oob: true, want: FramingEncrypted},
	{name: "aes-gcm+fec", crypt: func() (kcp.BlockCrypt, error) { return kcp.NewAESGCMCrypt(testKey) }, ds: 10, ps: 3, want: FramingEncrypted},
}

// msgSize is the size of the i-th test message: mostly small, every 7th
// larger than one MSS so that it is fragmented.
func msgSize(i int) int {
	if i%7 == 3 {
		return 2000 + i
	}
	return 1 + (i*37)%300
}

// runTraffic runs a kcp-go client and echo server over loopback UDP with the
// given options, sends msgs messages, waits for all echoes, closes
// everything and returns every datagram both sides sent.
func runTraffic(t *testing.T, tc trafficCase, msgs int) [][]byte {
	t.Helper()
	var block kcp.BlockCrypt
	if tc.crypt != nil {
		var err error
		block, err = tc.crypt()
		require.NoError(t, err)
	}
	rec := &recorder{}
	lo := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}
	srvUDP, err := net.ListenUDP("udp4", lo)
	require.NoError(t, err)
	defer srvUDP.Close()
	cliUDP, err := net.ListenUDP("udp4", lo)
	require.NoError(t, err)
	defer cliUDP.Close()

	l, err := kcp.ServeConn(block, tc.ds, tc.ps, tapConn{srvUDP, rec})
	require.NoError(t, err)
	defer l.Close()
	cli, err := kcp.NewConn2(srvUDP.LocalAddr(), block, tc.ds, tc.ps, tapConn{cliUDP, rec})
	require.NoError(t, err)
	defer cli.Close()

	deadline := time.Now().Add(20 * time.Second)
	total := 0
	for i := range msgs {
		total += msgSize(i)
	}
	clientDone := make(chan struct{})
	srvErr := make(chan error, 1)
	go func() { srvErr <- echo(l, deadline, total, clientDone) }()

	tune(cli, deadline)
	writeErr := make(chan error, 1)
	go func() {
		buf := make([]byte, 4096)
		for i := range msgs {
			for j := range msgSize(i) {
				buf[j] = byte(i + j)
			}
			if _, err := cli.Write(buf[:msgSize(i)]); err != nil {
				writeErr <- err
				return
			}
			if tc.oob && i%50 == 0 {
				if err := cli.SendOOB([]byte{byte(i), 'o', 'o', 'b'}); err != nil {
					writeErr <- err
					return
				}
			}
		}
		writeErr <- nil
	}()
	buf := make([]byte, 4096)
	for got := 0; got < total; {
		n, err := cli.Read(buf)
		require.NoError(t, err, "client read after %d of %d bytes", got, total)
		got += n
	}
	require.NoError(t, <-writeErr)
	close(clientDone)
	require.NoError(t, <-srvErr)
	require.NoError(t, cli.Close())
	require.NoError(t, cliUDP.Close())
	closePhantoms(l)
	require.NoError(t, srvUDP.Close())
	require.NoError(t, l.Close())
	return rec.all()
}

// closePhantoms closes the sessions the listener queued for Accept after
// the server session was closed: a late client packet makes kcp-go's
// listener create a new session for the same address ("phantom session"),
// and Listener.Close does not close queued sessions, so their goroutines
// would leak. Call it after closing the client (so nothing new arrives)
// and before closing the server socket (after which AcceptKCP fails at
// once); it returns after 100 ms without a new session (at most 10 rounds).
func closePhantoms(l *kcp.Listener) {
	for range 10 {
		_ = l.SetDeadline(time.Now().Add(100 * time.Millisecond))
		s, err := l.AcceptKCP()
		if err != nil {
			return
		}
		_ = s.Close()
	}
}

// tune makes a session fast (no-delay mode, 10 ms interval, larger windows)
// and bounds it with a deadline.
func tune(s *kcp.UDPSession, deadline time.Time) {
	s.SetNoDelay(1, 10, 2, 1)
	s.SetWindowSize(128, 128)
	_ = s.SetDeadline(deadline)
}

// echo accepts one session, echoes total bytes, then waits for clientDone
// (so that its last writes are not lost by an early Close) and closes it.
func echo(l *kcp.Listener, deadline time.Time, total int, clientDone <-chan struct{}) error {
	_ = l.SetDeadline(deadline)
	s, err := l.AcceptKCP()
	if err != nil {
		return err
	}
	defer s.Close()
	tune(s, deadline)
	if err := traffictest.Echo(s, total); err != nil {
		return err
	}
	select {
	case <-clientDone:
		return nil
	case <-time.After(time.Until(deadline)):
		return errors.New("echo: client did not finish before the deadline")
	}
}
