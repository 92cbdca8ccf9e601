package wireshark

import (
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	kcp "github.com/xtaci/kcp-go/v5"

	"kcplab/capture"
	"kcplab/internal/dir"
	"kcplab/internal/traffictest"
)

// scenario is one kind of kcp-go traffic the dissector must decode.
type scenario struct {
	name                     string
	crypt                    bool // AES (CFB) with testKey
	dataShards, parityShards int  // FEC when both > 0
	rawClient                bool // client is a bare kcp.KCP, so a message > MSS goes out as frg 2, 1, 0
	oob                      bool // the client also sends one OOB packet (needs FEC)
}

// scenarios cover the three framings and their combination. kcp-go's UDPSession.Write cuts
// messages at the MSS before KCP sees them, so its segments always have frg 0: only the raw
// kcp.KCP client produces frg > 0.
var scenarios = []scenario{
	{name: "plain"},
	{name: "plain-raw-fragments", rawClient: true},
	{name: "fec", dataShards: 10, parityShards: 3, oob: true},
	{name: "encrypted", crypt: true},
	{name: "encrypted-fec", crypt: true, dataShards: 10, parityShards: 3, oob: true},
}

const (
	smallMessages  = 30               // written back to back: several PUSH per datagram
	bigMessage     = 3000             // > MSS (1376): three segments
	trafficTimeout = 10 * time.Second // bound on one scenario's exchange
	rawConv        = 0x4b435031       // conv of the raw client
	sessionConv    = 0x4b435032       // conv of the UDPSession client
	rawInterval    = 10 * time.Millisecond
)

// testKey is the fixed AES-256 key of the encrypted scenarios.
var testKey = []byte("kcplab wireshark dissector test!")

// trafficMessages returns what the client sends: small messages, then one big one.
func trafficMessages() (msgs [][]byte, total int) {
	for i := 0; i < smallMessages; i++ {
		msgs = append(msgs, []byte(fmt.Sprintf("message %02d", i)))
	}
	big := make([]byte, bigMessage)
	for i := range big {
		big[i] = byte('a' + i%26)
	}
	msgs = append(msgs, big)
	for _, m := range msgs {
		total += len(m)
	}
	return msgs, total
}

// runScenario runs an echo exchange over 127.0.0.1 with the capture tap and returns the
// datagrams and the two UDP ports (server first).
func runScenario(t *testing.T, sc scenario, avoid map[uint16]bool) ([]capture.Datagram, []uint16) {
	t.Helper()
	var block kcp.BlockCrypt
	if sc.crypt {
		var err error
		block, err = kcp.NewAESBlockCrypt(testKey)
		require.NoError(t, err)
	}
	srvConn := listenLoopback(t, avoid)
	cliConn := listenLoopback(t, avoid)
	tap := capture.NewTap()

	l, err := kcp.ServeConn(block, sc.dataShards, sc.parityShards, tap.Wrap(srvConn, dir.S2C))
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })

	msgs, total := trafficMessages()
	srvDone := make(chan error, 1)
	go func() { srvDone <- echo(t, l, total) }()

	cli := tap.Wrap(cliConn, dir.C2S)
	if sc.rawClient {
		err = rawExchange(t, cli, srvConn.LocalAddr(), msgs, total)
	} else {
		err = sessionExchange(t, sc, block, cli, srvConn.LocalAddr(), msgs, total)
	}
	require.NoError(t, err, "client of %s", sc.name)
	select {
	case err := <-srvDone:
		require.NoError(t, err, "server of %s", sc.name)
	case <-time.After(trafficTimeout):
		t.Fatalf("%s: server did not finish within %v", sc.name, trafficTimeout)
	}
	_, err = tap.Close()
	require.NoError(t, err)
	dgs := tap.Datagrams()
	require.NotEmpty(t, dgs)
	return dgs, []uint16{udpPort(srvConn), udpPort(cliConn)}
}

// echo accepts one session and writes back every message until total bytes were echoed.
// The session stays open (closed by t.Cleanup) so that its last data is still acknowledged.
func echo(t *testing.T, l *kcp.Listener, total int) error {
	if err := l.SetDeadline(time.Now().Add(trafficTimeout)); err != nil {
		return err
	}
	s, err := l.AcceptKCP()
	if err != nil {
		return fmt.Errorf("accept: %w", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if err := s.SetDeadline(time.Now().Add(trafficTimeout)); err != nil {
		return err
	}
	return traffictest.Echo(s, total)
}

// sessionExchange sends msgs with a kcp-go UDPSession and reads total bytes back.
func sessionExchange(t *testing.T, sc scenario, block kcp.BlockCrypt, conn net.PacketConn, raddr net.Addr,
	msgs [][]byte, total int) error {
	c, err := kcp.NewConn3(sessionConv, raddr, block, sc.dataShards, sc.parityShards, conn)
	if err != nil {
		return err
	}
	t.Cleanup(func() { _ = c.Close() })
	if err := c.SetDeadline(time.Now().Add(trafficTimeout)); err != nil {
		return err
	}
	for _, m := range msgs {
		if _, err := c.Write(m); err != nil {
			return fmt.Errorf("client write: %w", err)
		}
	}
	if sc.oob {
		if err := c.SendOOB([]byte("oob")); err != nil {
			return fmt.Errorf("client oob: %w", err)
		}
	}
	buf := make([]byte, 64<<10)
	for got := 0; got < total; {
		n, err := c.Read(buf)
		if err != nil {
			return fmt.Errorf("client read after %d of %d bytes: %w", got, total, err)
		}
		got += n
	}
	return nil
}

// rawExchange sends msgs with a bare kcp.KCP (no congestion window, 10 ms updates) over conn
// and reads total bytes back, acknowledging at once.
func rawExchange(t *testing.T, conn net.PacketConn, raddr net.Addr, msgs [][]byte, total int) error {
	var mu sync.Mutex // guards k and sendErr
	var sendErr error
	k := kcp.NewKCP(rawConv, func(buf []byte, size int) {
		if _, err := conn.WriteTo(buf[:size], raddr); err != nil && sendErr == nil {
			sendErr = err
		}
	})
	k.NoDelay(1, int(rawInterval/time.Millisecond), 2, 1)
	k.WndSize(128, 128)
	mu.Lock()
	for i, m := range msgs {
		if r := k.Send(m); r < 0 {
			mu.Unlock()
			return fmt.Errorf("raw client: Send of message %d (%d bytes) returned %d", i, len(m), r)
		}
	}
	k.Update()
	mu.Unlock()

	stop := traffictest.Every(t, rawInterval, func() {
		mu.Lock()
		k.Update()
		mu.Unlock()
	})
	defer stop()

	if err := conn.SetReadDeadline(time.Now().Add(trafficTimeout)); err != nil {
		return err
	}
	buf := make([]byte, 2048)
	msg := make([]byte, 64<<10)
	for got := 0; got < total; {
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			return fmt.Errorf("raw client read after %d of %d bytes: %w", got, total, err)
		}
		mu.Lock()
		k.Input(buf[:n], kcp.IKCP_PACKET_REGULAR, true)
		for m := k.Recv(msg); m >= 0; m = k.Recv(msg) {
			got += m
		}
		err = sendErr
		mu.Unlock()
		if err != nil {
			return fmt.Errorf("raw client send: %w", err)
		}
	}
	return nil
}

// listenLoopback opens a UDP socket on 127.0.0.1 whose port is not in avoid (ports tshark
// gives to other dissectors, which would win over the heuristic). It is closed by t.Cleanup.
func listenLoopback(t *testing.T, avoid map[uint16]bool) net.PacketConn {
	t.Helper()
	var rejected []net.PacketConn
	defer func() {
		for _, c := range rejected {
			_ = c.Close()
		}
	}()
	for range 50 {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		require.NoError(t, err)
		if !avoid[udpPort(c)] {
			t.Cleanup(func() { _ = c.Close() })
			return c
		}
		rejected = append(rejected, c)
	}
	require.Fail(t, "no free 127.0.0.1 UDP port outside tshark's registered ports after 50 tries")
	return nil
}

// udpPort returns the local port of a UDP conn (0 if it is not one).
func udpPort(c net.PacketConn) uint16 {
	if ua, ok := c.LocalAddr().(*net.UDPAddr); ok {
		return uint16(ua.Port)
	}
	return 0
}
