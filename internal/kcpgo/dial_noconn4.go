//go:build kcpgo_noconn4

package kcpgo

import (
	"net"

	kcp "github.com/xtaci/kcp-go/v5"
)

// DialOn starts a client session on conn, a socket the session owns: closing the session closes it. It
// returns the session and the net.Conn the client role gets.
//
// For releases without NewConn4 (v5.6.13 and older; NoConn4Tag), which have NewConn3 only. Its
// session owns the socket in v5.4.x (Close closes it) but not from the ownConn field on (v5.6.1: Close
// leaves it open, so a closed session's read loop would keep reading and could still answer with
// ACKs). The returned net.Conn closes the socket right after the session, as NewConn4(..., true, ...)
// does; closing a socket twice is harmless.
func DialOn(conv uint32, raddr net.Addr, block kcp.BlockCrypt, ds, ps int, conn net.PacketConn) (*kcp.UDPSession, net.Conn, error) {
	s, err := kcp.NewConn3(conv, raddr, block, ds, ps, conn)
	if err != nil {
		return nil, nil, err
	}
	return s, &ownedConn{UDPSession: s, sock: conn}, nil
}

// ownedConn is a client session whose Close also closes its socket.
type ownedConn struct {
	*kcp.UDPSession
	sock net.PacketConn
}

func (c *ownedConn) Close() error {
	err := c.UDPSession.Close()
	_ = c.sock.Close()
	return err
}
