package claims

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	kcp "github.com/xtaci/kcp-go/v5"
	"golang.org/x/sys/unix"

	"kcplab/internal/kcpgo"
	"kcplab/internal/sockopt"
)

// Transport names what carries a workload: kernel TCP, or KCP in one of the Modes.
type Transport struct {
	TCP  bool
	Mode Mode // KCP's, when not TCP
	// Peer names a KCP implementation in a peer process ("ikcp", "seed"); empty: kcp-go linked in.
	Peer  string
	Start PeerStarter `json:"-"` // starts the Peer's process
}

// TCP is kernel TCP with TCP_NODELAY.
var TCP = Transport{TCP: true}

// KCP is KCP (kcp-go, linked into this binary) in mode m.
func KCP(m Mode) Transport { return Transport{Mode: m} }

// String names the transport: "tcp", "kcp fast".
func (t Transport) String() string {
	if t.TCP {
		return "tcp"
	}
	if t.Peer != "" {
		return "kcp " + t.Mode.Name + " (" + t.Peer + ")"
	}
	return "kcp " + t.Mode.Name
}

// KCPPeer is KCP in mode m in a peer process that start starts, named name.
func KCPPeer(m Mode, name string, start PeerStarter) Transport {
	return Transport{Mode: m, Peer: name, Start: start}
}

// TCPInfo says which TCP ran: the kernel's release, the socket's congestion control, TCP_NODELAY.
type TCPInfo struct {
	Kernel     string `json:"kernel"`
	Congestion string `json:"congestion_control"`
	NoDelay    bool   `json:"tcp_nodelay"`
}

// endpoints opens the two ends of a case's path: a packet socket for each side (KCP) and a stream
// listener and dialer (TCP).
type endpoints interface {
	serverPacket() (net.PacketConn, error)
	clientPacket() (net.PacketConn, error)
	listenTCP() (net.Listener, error)
	dialTCP(addr net.Addr) (net.Conn, error)
}

// countConn counts what KCP writes to its socket, and the datagrams whose conv is not the case's
// (kcp-go v5.7.3+'s shared workers can send one session's datagram through another's socket).
type countConn struct {
	sockopt.Forward
	conv      uint32
	datagrams atomic.Int64
	bytes     atomic.Int64
	foreign   atomic.Int64
}

func newCountConn(c net.PacketConn, conv uint32) *countConn {
	return &countConn{Forward: sockopt.NewForward(c, "claims"), conv: conv}
}

// WriteTo counts and writes.
func (c *countConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	c.datagrams.Add(1)
	c.bytes.Add(int64(len(p)))
	if len(p) >= 4 && binary.LittleEndian.Uint32(p) != c.conv {
		c.foreign.Add(1)
	}
	return c.Unwrap().WriteTo(p, addr)
}

// ReadFrom reads.
func (c *countConn) ReadFrom(p []byte) (int, net.Addr, error) { return c.Unwrap().ReadFrom(p) }

// Close closes the socket.
func (c *countConn) Close() error { return c.Unwrap().Close() }

// sent is what one side's KCP wrote to its socket.
type sent struct {
	Datagrams, Bytes, Foreign int64
}

// configure applies mode m and the workload's framing to a KCP session.
func configure(s *kcp.UDPSession, m Mode, w Workload) {
	s.SetNoDelay(m.NoDelay, int(m.Interval.Milliseconds()), m.Resend, m.NC)
	s.SetWindowSize(m.SndWnd, m.RcvWnd)
	_, bulk := w.(Bulk)
	s.SetStreamMode(bulk)
}

// runKCP runs workload w over KCP in mode m between sockets that ep opens, and returns what the
// client measured and what each side wrote ([client, server]).
func runKCP(ctx context.Context, w Workload, m Mode, ep endpoints) (Measured, [2]sent, error) {
	var out [2]sent
	conv := rand.Uint32()
	srvSock, err := ep.serverPacket()
	if err != nil {
		return Measured{}, out, err
	}
	srvConn := newCountConn(srvSock, conv)
	defer srvConn.Close()
	ln, err := kcpgo.ServeOn(nil, 0, 0, srvConn)
	if err != nil {
		return Measured{}, out, err
	}
	defer ln.Close()
	cliSock, err := ep.clientPacket()
	if err != nil {
		return Measured{}, out, err
	}
	cliConn := newCountConn(cliSock, conv)
	sess, conn, err := kcpgo.DialOn(conv, srvSock.LocalAddr(), nil, 0, 0, cliConn)
	if err != nil {
		cliConn.Close()
		return Measured{}, out, err
	}
	configure(sess, m, w)

	var wg sync.WaitGroup
	var serr error
	accepted := make(chan *kcp.UDPSession, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		ln.SetDeadline(time.Now().Add(ServerGrace))
		s, err := ln.AcceptKCP()
		if err != nil {
			serr = fmt.Errorf("kcp server: accept: %w", err)
			return
		}
		accepted <- s
		configure(s, m, w)
		serr = w.Serve(s)
	}()
	// The first message makes the server's session, so the server's settings apply from its first
	// answer on (test.cpp sets both ends before the first send, too).
	meas, cerr := w.Run(ctx, conn)
	// The server has answered everything the client measured (or the run was stopped): its role
	// ends with its session's close.
	conn.Close()
	ln.Close()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case s := <-accepted:
		s.Close()
		<-done
	case <-done:
	}
	for i, c := range []*countConn{cliConn, srvConn} {
		out[i] = sent{c.datagrams.Load(), c.bytes.Load(), c.foreign.Load()}
	}
	if cerr != nil {
		return meas, out, cerr
	}
	if serr != nil && meas.Missing > 0 {
		// The server's error is often only the teardown's Close under its waiting Read: the count
		// of messages never echoed is what the case measured.
		return meas, out, fmt.Errorf("%d message(s) never echoed by the client's deadline; the server's role ended with: %w", meas.Missing, serr)
	}
	return meas, out, nil
}

// runTCP runs workload w over kernel TCP between ep's ends.
func runTCP(ctx context.Context, w Workload, ep endpoints) (Measured, TCPInfo, error) {
	var info TCPInfo
	ln, err := ep.listenTCP()
	if err != nil {
		return Measured{}, info, err
	}
	defer ln.Close()
	var wg sync.WaitGroup
	var serr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		if tl, ok := ln.(*net.TCPListener); ok {
			tl.SetDeadline(time.Now().Add(ServerGrace))
		}
		c, err := ln.Accept()
		if err != nil {
			serr = fmt.Errorf("tcp server: accept: %w", err)
			return
		}
		defer c.Close()
		c.(*net.TCPConn).SetNoDelay(true)
		serr = w.Serve(c)
	}()
	c, err := ep.dialTCP(ln.Addr())
	if err != nil {
		ln.Close()
		wg.Wait()
		return Measured{}, info, err
	}
	tc := c.(*net.TCPConn)
	if err := tc.SetNoDelay(true); err != nil {
		c.Close()
		wg.Wait()
		return Measured{}, info, err
	}
	info, err = tcpInfo(tc)
	if err != nil {
		c.Close()
		wg.Wait()
		return Measured{}, info, err
	}
	meas, cerr := w.Run(ctx, c)
	c.Close()
	wg.Wait()
	return meas, info, errors.Join(cerr, ignoreAfterClient(serr, cerr))
}

// ignoreAfterClient drops the server's error when the client failed first (the server's read then
// fails with the client's close).
func ignoreAfterClient(serr, cerr error) error {
	if cerr != nil {
		return nil
	}
	return serr
}

// tcpInfo reads what TCP the socket runs.
func tcpInfo(c *net.TCPConn) (TCPInfo, error) {
	info := TCPInfo{NoDelay: true}
	var uts unix.Utsname
	if err := unix.Uname(&uts); err == nil {
		info.Kernel = unix.ByteSliceToString(uts.Release[:])
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return info, err
	}
	var gerr error
	err = rc.Control(func(fd uintptr) {
		info.Congestion, gerr = unix.GetsockoptString(int(fd), unix.IPPROTO_TCP, unix.TCP_CONGESTION)
		var nd int
		nd, gerr2 := unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NODELAY)
		if gerr == nil {
			gerr = gerr2
		}
		info.NoDelay = nd != 0
	})
	if err == nil {
		err = gerr
	}
	return info, err
}
