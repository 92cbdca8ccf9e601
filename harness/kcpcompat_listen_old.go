//go:build kcpgo_listenerownsconn

package harness

import (
	"net"

	kcp "github.com/xtaci/kcp-go/v5"
)

// serveOn starts a listener on conn, a socket the listener does not own: closing the listener leaves
// it open (the trial closes it once every session is closed).
//
// Releases without the ownConn field (v5.4.20 and older; build tag kcpgo_listenerownsconn) close the
// socket in Listener.Close, so the accepted sessions' reads would fail with "use of closed network
// connection" at the trial's teardown, before the sessions are closed (seen in p004: net/http then
// writes a 400 response on a phantom session). The listener gets conn with a Close that does nothing.
func serveOn(block kcp.BlockCrypt, ds, ps int, conn net.PacketConn) (*kcp.Listener, error) {
	return kcp.ServeConn(block, ds, ps, keepOpen{conn})
}

// keepOpen is a socket whose Close is left to its owner.
type keepOpen struct{ net.PacketConn }

func (keepOpen) Close() error { return nil }
