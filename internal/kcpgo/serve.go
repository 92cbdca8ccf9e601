//go:build !kcpgo_listenerownsconn

package kcpgo

import (
	"net"

	kcp "github.com/xtaci/kcp-go/v5"
)

// ServeOn starts a listener on conn, a socket the listener does not own: closing the listener leaves it
// open (its owner closes it once every session is closed).
//
// For releases with the ownConn field (v5.6.1 and later among the releases kcplab builds), whose
// ServeConn does just that. serve_listenerownsconn.go is the one for older releases
// (ListenerOwnsConnTag).
func ServeOn(block kcp.BlockCrypt, ds, ps int, conn net.PacketConn) (*kcp.Listener, error) {
	return kcp.ServeConn(block, ds, ps, conn)
}
