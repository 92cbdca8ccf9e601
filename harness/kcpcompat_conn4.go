//go:build !kcpgo_noconn4

package harness

import (
	"net"

	kcp "github.com/xtaci/kcp-go/v5"
)

// dialOn starts the client session on conn, a socket the session owns: closing the session closes
// it. It returns the session and the net.Conn the client role gets (here the session itself).
//
// This file is for kcp-go releases with NewConn4 (v5.6.14 and later);
// kcpcompat_conn3.go is the one for older releases (build tag kcpgo_noconn4).
func dialOn(conv uint32, raddr net.Addr, block kcp.BlockCrypt, ds, ps int, conn net.PacketConn) (*kcp.UDPSession, net.Conn, error) {
	s, err := kcp.NewConn4(conv, raddr, block, ds, ps, true, conn)
	if err != nil {
		return nil, nil, err
	}
	return s, s, nil
}
