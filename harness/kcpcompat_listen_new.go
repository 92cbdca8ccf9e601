//go:build !kcpgo_listenerownsconn

package harness

import (
	"net"

	kcp "github.com/xtaci/kcp-go/v5"
)

// serveOn starts a listener on conn, a socket the listener does not own: closing the listener leaves
// it open (the trial closes it once every session is closed). ServeConn does that from the ownConn
// field on (v5.6.1 and later among the releases kcplab builds).
func serveOn(block kcp.BlockCrypt, ds, ps int, conn net.PacketConn) (*kcp.Listener, error) {
	return kcp.ServeConn(block, ds, ps, conn)
}
