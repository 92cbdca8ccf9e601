package link

import (
	"net"
	"net/netip"
	"sync/atomic"

	"kcplab/internal/dir"
	"kcplab/internal/sockopt"
)

// Conn is the net.PacketConn returned by Link.Wrap. WriteTo goes through its direction's
// impairments; it returns len(p), nil for a datagram the link drops or delays, as a real network
// would, and the socket's error when it writes at once and the socket fails. Everything else is
// forwarded to the wrapped conn.
//
// Like the capture tap, a Conn exposes neither SyscallConn nor ReadMsgUDP, so kcp-go does not use
// its batch path (which would bypass the link) and sends one datagram per WriteTo.
type Conn struct {
	sockopt.Forward // the rest, to the wrapped conn; its write deadline also bounds the link's delayed writes
	d               *dirLink
	src             netip.AddrPort // the wrapped conn's local address, if it is a UDP address
	closed          atomic.Bool
}

var _ net.PacketConn = (*Conn)(nil)

// WriteTo sends p to addr through the link. After the Conn's Close it goes straight to the closed
// conn, for its error, and is not counted.
func (c *Conn) WriteTo(p []byte, addr net.Addr) (int, error) {
	if c.closed.Load() {
		return c.Unwrap().WriteTo(p, addr)
	}
	return c.d.write(c, p, addr)
}

// ReadFrom reads from the wrapped conn.
func (c *Conn) ReadFrom(p []byte) (int, net.Addr, error) { return c.Unwrap().ReadFrom(p) }

// Direction returns the direction of what is written to this conn.
func (c *Conn) Direction() dir.Dir { return c.d.dir }

// Close closes the wrapped conn. Copies of its datagrams still in the link are then recorded as
// FateClosed when they fall due: the link sends through the sender's socket.
func (c *Conn) Close() error {
	c.closed.Store(true)
	return c.Unwrap().Close()
}
