package hosts

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"kcplab/internal/dir"
	"kcplab/link"
)

// needHosts skips a test that this process cannot run, with the reason.
func needHosts(t *testing.T) {
	t.Helper()
	if err := Available(); err != nil {
		t.Skip(err)
	}
}

// newPair makes a pair with the link spec, closed at the test's end.
func newPair(t *testing.T, spec string, seed uint64) *Pair {
	t.Helper()
	cfg, err := link.Parse(spec)
	require.NoError(t, err)
	p, err := NewPair(cfg, seed)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, p.Close()) })
	return p
}

// udpPair binds a UDP socket in each host: the server's on port 9000, the client's on any port.
func udpPair(t *testing.T, p *Pair) (cli, srv *net.UDPConn) {
	t.Helper()
	require.NoError(t, p.Server.Do(func() (err error) {
		srv, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ServerAddr, 9000)))
		return err
	}))
	require.NoError(t, p.Client.Do(func() (err error) {
		cli, err = net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(ServerAddr, 9000)))
		return err
	}))
	t.Cleanup(func() { cli.Close(); srv.Close() })
	return cli, srv
}

// TestPairDelaysEachPacket sends datagrams from the client's host to the server's across a 20 ms
// link: the link holds each one for the delay, and none reaches the server's socket sooner. (How much
// later is the machine's: a timer that fires late on a busy machine delays every packet alike.)
func TestPairDelaysEachPacket(t *testing.T) {
	needHosts(t)
	p := newPair(t, "delay=20ms", 1)
	cli, srv := udpPair(t, p)
	const n = 20
	sent := make([]time.Time, n)
	for i := range n {
		sent[i] = time.Now()
		_, err := cli.Write([]byte{byte(i)})
		require.NoError(t, err)
	}
	require.NoError(t, srv.SetReadDeadline(time.Now().Add(2*time.Second)))
	buf := make([]byte, 64)
	for range n {
		k, _, err := srv.ReadFromUDP(buf)
		require.NoError(t, err)
		require.Equal(t, 1, k)
		require.GreaterOrEqual(t, time.Since(sent[buf[0]]), 20*time.Millisecond, "datagram %d", buf[0])
	}
	recs := p.Link.RecordsOf(dir.C2S)
	require.Len(t, recs, n)
	for _, r := range recs {
		require.Equal(t, 20*time.Millisecond, r.Copies[0].Delay, "packet %d", r.Index)
		if r.Fate == link.FateDelivered { // its record may trail the socket's read by a moment
			require.GreaterOrEqual(t, r.Copies[0].Delivered.Sub(r.Sent), 20*time.Millisecond, "packet %d", r.Index)
		}
	}
}

// TestPairLosesWhatTheLinkDrops checks, packet for packet, that what the server's socket receives is
// what the link delivered: the records' fates decide which datagrams arrive.
func TestPairLosesWhatTheLinkDrops(t *testing.T) {
	needHosts(t)
	p := newPair(t, "loss=30%", 7)
	cli, srv := udpPair(t, p)
	const n = 200
	for i := range n {
		_, err := cli.Write([]byte{byte(i >> 8), byte(i)})
		require.NoError(t, err)
	}
	var got []int
	buf := make([]byte, 64)
	for {
		// Until the link has been quiet for 300 ms: every datagram it delivered has arrived.
		require.NoError(t, srv.SetReadDeadline(time.Now().Add(300*time.Millisecond)))
		k, _, err := srv.ReadFromUDP(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		require.NoError(t, err)
		require.Equal(t, 2, k)
		got = append(got, int(buf[0])<<8|int(buf[1]))
	}
	require.EqualValues(t, n, p.Link.Stats(dir.C2S).Sent)
	var want []int
	for _, r := range p.Link.RecordsOf(dir.C2S) {
		if r.DeliveredCopies() > 0 {
			want = append(want, int(r.Payload[len(r.Payload)-2])<<8|int(r.Payload[len(r.Payload)-1]))
		}
	}
	require.Greater(t, len(want), n/2)
	require.Less(t, len(want), n)
	require.Equal(t, want, got)
}

// TestPairKeepsPacketsInside checks that neither host can reach anything but the other: no default
// route, so an address outside the pair is unreachable, and every packet the link saw is between
// the two hosts' addresses.
func TestPairKeepsPacketsInside(t *testing.T) {
	needHosts(t)
	p := newPair(t, "", 1)
	cli, srv := udpPair(t, p)
	_, err := cli.Write([]byte("in"))
	require.NoError(t, err)
	require.NoError(t, srv.SetReadDeadline(time.Now().Add(time.Second)))
	_, _, err = srv.ReadFromUDP(make([]byte, 8))
	require.NoError(t, err)
	for _, ns := range []*Namespace{p.Client, p.Server} {
		for _, out := range []string{"198.19.255.1:9", "8.8.8.8:53", "127.0.0.53:53"} {
			err := sendFrom(ns, out)
			if out == "127.0.0.53:53" {
				// The namespace's own loopback: it exists, but holds nothing of the machine's.
				continue
			}
			require.Error(t, err, "%s reached %s", ns.Name, out)
			require.True(t, errors.Is(err, syscall.ENETUNREACH), "%s to %s: %v", ns.Name, out, err)
		}
	}
	for _, r := range p.Link.Records() {
		require.GreaterOrEqual(t, len(r.Payload), 20)
		src, _ := netip.AddrFromSlice(r.Payload[12:16])
		dst, _ := netip.AddrFromSlice(r.Payload[16:20])
		pair := []netip.Addr{ClientAddr, ServerAddr}
		require.True(t, slices.Contains(pair, src) && slices.Contains(pair, dst), "packet %v -> %v", src, dst)
	}
}

// TestPairLeavesNothing checks that Close deletes the namespaces and stops every goroutine.
func TestPairLeavesNothing(t *testing.T) {
	needHosts(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	cfg, err := link.Parse("delay=5ms")
	require.NoError(t, err)
	p, err := NewPair(cfg, 1)
	require.NoError(t, err)
	names := []string{p.Client.Name, p.Server.Name}
	for _, n := range names {
		_, err := os.Stat(runDir + "/" + n)
		require.NoError(t, err)
	}
	require.NoError(t, p.Close())
	require.NoError(t, p.Close())
	for _, n := range names {
		_, err := os.Stat(runDir + "/" + n)
		require.True(t, os.IsNotExist(err), "%s still exists", n)
	}
}

// sendFrom sends one UDP datagram from inside ns to addr, and returns the first error on the way.
func sendFrom(ns *Namespace, addr string) error {
	return ns.Do(func() error {
		c, err := net.Dial("udp4", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte("out"))
		return err
	})
}
