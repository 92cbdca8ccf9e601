package claims

import (
	"errors"
	"net"
	"net/netip"

	"kcplab/hosts"
	"kcplab/internal/dir"
	"kcplab/link"
)

// Path is where a case's two ends talk.
type Path int

// The paths.
const (
	// Loopback: UDP sockets on 127.0.0.1 whose writes go through the link (KCP only; no root).
	Loopback Path = iota
	// Hosts: two network namespaces joined by TUN devices through the link (TCP and KCP; root).
	Hosts
)

// String names the path.
func (p Path) String() string {
	if p == Hosts {
		return "hosts"
	}
	return "loopback"
}

// loopbackEnds opens sockets on 127.0.0.1, the client's wrapped by the link's C2S direction and the
// server's by S2C.
type loopbackEnds struct{ l *link.Link }

func (e loopbackEnds) packet(d dir.Dir) (net.PacketConn, error) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	return e.l.Wrap(c, d), nil
}
func (e loopbackEnds) serverPacket() (net.PacketConn, error) { return e.packet(dir.S2C) }
func (e loopbackEnds) clientPacket() (net.PacketConn, error) { return e.packet(dir.C2S) }
func (e loopbackEnds) listenTCP() (net.Listener, error)      { return nil, errTCPLoopback }
func (e loopbackEnds) dialTCP(net.Addr) (net.Conn, error)    { return nil, errTCPLoopback }

var errTCPLoopback = errors.New("claims: TCP needs the hosts path (the link cannot wrap a kernel TCP socket)")

// hostEnds opens sockets in a Pair's namespaces: the server's on ServerAddr, the client's on
// ClientAddr; the Pair's link sits between them.
type hostEnds struct{ p *hosts.Pair }

// port is the server's port on its host (each case has hosts of its own).
const port = 4000

func (e hostEnds) serverPacket() (c net.PacketConn, err error) {
	err = e.p.Server.Do(func() error {
		c, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(hosts.ServerAddr, port)))
		return err
	})
	return c, err
}
func (e hostEnds) clientPacket() (c net.PacketConn, err error) {
	err = e.p.Client.Do(func() error {
		c, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(hosts.ClientAddr, 0)))
		return err
	})
	return c, err
}
func (e hostEnds) listenTCP() (l net.Listener, err error) {
	err = e.p.Server.Do(func() error {
		l, err = net.ListenTCP("tcp4", net.TCPAddrFromAddrPort(netip.AddrPortFrom(hosts.ServerAddr, port)))
		return err
	})
	return l, err
}
func (e hostEnds) dialTCP(addr net.Addr) (c net.Conn, err error) {
	err = e.p.Client.Do(func() error {
		d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(hosts.ClientAddr, 0)), Timeout: ServerGrace}
		c, err = d.Dial("tcp4", addr.String())
		return err
	})
	return c, err
}
