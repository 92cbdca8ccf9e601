//go:build !kcpgo_noconn4

package kcpgo

import (
	"net"

	kcp "github.com/xtaci/kcp-go/v5"
)

// DialOn starts a client session on conn, a socket the session owns: closing the session closes it. It
// returns the session and the net.Conn the client role gets (here the session itself).
//
// For releases with NewConn4 (v5.6.14 and later), whose ownConn argument says just that.
// dial_noconn4.go is the one for older releases (NoConn4Tag).
func DialOn(conv uint32, raddr net.Addr, block kcp.BlockCrypt, ds, ps int, conn net.PacketConn) (*kcp.UDPSession, net.Conn, error) {
	s, err := kcp.NewConn4(conv, raddr, block, ds, ps, true, conn)
	if err != nil {
		return nil, nil, err
	}
	return s, s, nil
}
