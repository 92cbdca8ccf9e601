//go:build kcpgo_listenerownsconn

package kcpgo

import (
	"net"

	kcp "github.com/xtaci/kcp-go/v5"
)

// ServeOn starts a listener on conn, a socket the listener does not own: closing the listener leaves it
// open (its owner closes it once every session is closed).
//
// For releases without the ownConn field (v5.4.20 and older; ListenerOwnsConnTag), whose
// Listener.Close closes the socket: the accepted sessions' reads would then fail with "use of closed
// network connection" at a trial's teardown, before the sessions are closed (in p004, net/http then
// writes a 400 response on a phantom session). The listener gets conn with a Close that does nothing.
func ServeOn(block kcp.BlockCrypt, ds, ps int, conn net.PacketConn) (*kcp.Listener, error) {
	return kcp.ServeConn(block, ds, ps, keepOpen{conn})
}

// keepOpen is a socket whose Close is left to its owner.
type keepOpen struct{ net.PacketConn }

func (keepOpen) Close() error { return nil }
