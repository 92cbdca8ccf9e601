package capture

import (
	"net"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"kcplab/internal/dir"
	"kcplab/internal/traffictest"
)

// sendRecv writes payload from one conn to another and reads it there.
func sendRecv(t *testing.T, from, to net.PacketConn, payload []byte) {
	t.Helper()
	_, err := from.WriteTo(payload, to.LocalAddr())
	require.NoError(t, err)
	require.NoError(t, to.SetReadDeadline(time.Now().Add(5*time.Second)))
	buf := make([]byte, 2048)
	n, _, err := to.ReadFrom(buf)
	require.NoError(t, err)
	require.Equal(t, payload, buf[:n])
}

func addrPort(t *testing.T, c net.PacketConn) netip.AddrPort {
	t.Helper()
	ap, ok := addrPortOf(c.LocalAddr())
	require.True(t, ok)
	return ap
}

func TestTapDedupBetweenTappedConns(t *testing.T) {
	t.Parallel()
	src := NewTap()
	a, b := traffictest.Loopback(t), traffictest.Loopback(t)
	ta, tb := src.WrapTap(a, dir.C2S), src.WrapTap(b, dir.S2C)

	msgs := []struct {
		from, to *Tap
		payload  string
	}{
		{ta, tb, "one"}, {tb, ta, "two"}, {ta, tb, "three"}, {ta, tb, ""}, {tb, ta, "five"},
	}
	for _, m := range msgs {
		buf := []byte(m.payload)
		sendRecv(t, m.from, m.to, buf)
		for i := range buf { // the tap must have copied: scribbling on the caller's buffer changes nothing
			buf[i] = 'X'
		}
	}
	dgs := src.Datagrams()
	require.Len(t, dgs, len(msgs), "each datagram once, although sent and received through taps")
	for i, m := range msgs {
		t.Run(m.payload, func(t *testing.T) {
			d := dgs[i]
			assert.Equal(t, m.payload, string(d.Payload))
			assert.Equal(t, addrPort(t, m.from), d.Src)
			assert.Equal(t, addrPort(t, m.to), d.Dst)
			assert.Equal(t, m.from.Side(), d.Side)
			if i > 0 {
				assert.False(t, d.Time.Before(dgs[i-1].Time), "wire order")
			}
		})
	}
	assert.EqualValues(t, 3, ta.Sent())
	assert.EqualValues(t, 2, ta.Received())
	assert.EqualValues(t, 2, tb.Sent())
	assert.EqualValues(t, 3, tb.Received())
}

func TestTapRecordsUntappedSender(t *testing.T) {
	t.Parallel()
	src := NewTap()
	raw, c := traffictest.Loopback(t), traffictest.Loopback(t)
	tc := src.WrapTap(c, dir.S2C)

	// The tap's own send to the untapped conn is recorded at send time ...
	sendRecv(t, tc, raw, []byte("out"))
	// ... and a datagram injected from the untapped conn at receive time.
	beforeInject := time.Now()
	sendRecv(t, raw, tc, []byte("injected"))
	dgs := src.Datagrams()
	require.Len(t, dgs, 2)
	tests := []struct {
		name     string
		d        Datagram
		src, dst netip.AddrPort
		side     dir.Dir
		payload  string
	}{
		{"tap send", dgs[0], addrPort(t, c), addrPort(t, raw), dir.S2C, "out"},
		{"injected", dgs[1], addrPort(t, raw), addrPort(t, c), dir.Unknown, "injected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.src, tt.d.Src)
			assert.Equal(t, tt.dst, tt.d.Dst)
			assert.Equal(t, tt.side, tt.d.Side)
			assert.Equal(t, tt.payload, string(tt.d.Payload))
		})
	}
	assert.False(t, dgs[1].Time.Before(beforeInject), "an injected datagram is stamped when received")
}

func TestTapFailedWriteIsNotRecorded(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(c *net.UDPConn)
		to    net.Addr
	}{
		{"closed conn", func(c *net.UDPConn) { c.Close() }, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}},
		{"IPv6 target on udp4 socket", func(*net.UDPConn) {}, &net.UDPAddr{IP: net.IPv6loopback, Port: 9}},
		{"write deadline passed", func(c *net.UDPConn) { c.SetWriteDeadline(time.Now().Add(-time.Second)) },
			&net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := NewTap()
			c := traffictest.Loopback(t)
			tc := src.WrapTap(c, dir.C2S)
			tt.setup(c)
			_, err := tc.WriteTo([]byte("x"), tt.to)
			require.Error(t, err)
			assert.Empty(t, src.Datagrams())
			assert.Zero(t, tc.Sent())
		})
	}
}

func TestTapForwardsConnMethods(t *testing.T) {
	t.Parallel()
	src := NewTap()
	c := traffictest.Loopback(t)
	tc := src.WrapTap(c, dir.C2S)

	// kcp-go's batch path probes for these; the tap must not offer them.
	var pc net.PacketConn = tc
	_, hasSyscallConn := pc.(syscall.Conn)
	_, hasReadMsgUDP := pc.(interface {
		ReadMsgUDP(b, oob []byte) (n, oobn, flags int, addr *net.UDPAddr, err error)
	})
	_, isConn := pc.(net.Conn)
	assert.False(t, hasSyscallConn, "SyscallConn would enable kcp-go's sendmmsg/recvmmsg path")
	assert.False(t, hasReadMsgUDP)
	assert.False(t, isConn)

	assert.Equal(t, c.LocalAddr(), tc.LocalAddr())
	assert.Same(t, c, tc.Unwrap().(*net.UDPConn))
	assert.NoError(t, tc.SetReadBuffer(1<<20))
	assert.NoError(t, tc.SetWriteBuffer(1<<20))
	assert.NoError(t, tc.SetDSCP(46))
	assert.NoError(t, tc.SetDeadline(time.Time{}))
	assert.NoError(t, tc.SetWriteDeadline(time.Time{}))

	require.NoError(t, tc.SetReadDeadline(time.Now().Add(-time.Second)))
	_, _, err := tc.ReadFrom(make([]byte, 16))
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	assert.True(t, ne.Timeout())
	assert.Zero(t, tc.Received())

	require.NoError(t, tc.Close())
	_, err = c.WriteTo([]byte("x"), c.LocalAddr())
	assert.Error(t, err, "closing the tap closes the wrapped conn")
	assert.Empty(t, src.Datagrams())
}

func TestTapWithoutOptionalMethods(t *testing.T) {
	t.Parallel()
	c := traffictest.Loopback(t)
	tc := NewTap().WrapTap(plainConn{c}, dir.C2S)
	tests := []struct {
		name string
		call func() error
	}{
		{"SetReadBuffer", func() error { return tc.SetReadBuffer(1 << 20) }},
		{"SetWriteBuffer", func() error { return tc.SetWriteBuffer(1 << 20) }},
		{"SetDSCP", func() error { return tc.SetDSCP(46) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			require.Error(t, err)
			assert.Contains(t, err.Error(), "capture.plainConn")
		})
	}
}

func TestTapNotifyAndClose(t *testing.T) {
	t.Parallel()
	src := NewTap()
	assert.Nil(t, src.Wrap(nil, dir.C2S))
	a, b := traffictest.Loopback(t), traffictest.Loopback(t)
	ta := src.Wrap(a, dir.C2S)
	select {
	case <-src.Notify():
		t.Fatal("notification before any datagram")
	default:
	}
	for range 3 { // several datagrams, one pending notification (capacity 1, never blocks)
		_, err := ta.WriteTo([]byte("x"), b.LocalAddr())
		require.NoError(t, err)
	}
	select {
	case <-src.Notify():
	case <-time.After(5 * time.Second):
		t.Fatal("no notification")
	}
	st, err := src.Close()
	require.NoError(t, err)
	assert.Equal(t, Stats{Captured: 3}, st)
	_, err = ta.WriteTo([]byte("after close"), b.LocalAddr())
	require.NoError(t, err, "the conn keeps working after the capture is closed")
	st2, err := src.Close()
	require.NoError(t, err)
	assert.Equal(t, st, st2, "Close is idempotent and recording stopped")
	assert.Len(t, src.Datagrams(), 3)
}

func TestTapConcurrentSendersKeepEveryDatagram(t *testing.T) {
	t.Parallel()
	const senders, perSender = 8, 500
	src := NewTap()
	sink := traffictest.Loopback(t)
	var wg sync.WaitGroup
	taps := make([]*Tap, senders)
	for i := range senders {
		c := traffictest.Loopback(t)
		taps[i] = src.WrapTap(c, dir.C2S)
	}
	for _, tp := range taps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range perSender {
				if _, err := tp.WriteTo([]byte{byte(j)}, sink.LocalAddr()); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	dgs := src.Datagrams()
	require.Len(t, dgs, senders*perSender)
	perSrc := map[netip.AddrPort]int{}
	for i, d := range dgs {
		if i > 0 {
			require.False(t, d.Time.Before(dgs[i-1].Time), "sorted by time")
		}
		assert.Equal(t, byte(perSrc[d.Src]), d.Payload[0], "per-sender order kept")
		perSrc[d.Src]++
	}
	assert.Len(t, perSrc, senders)
}
