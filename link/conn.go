package link

import (
	"fmt"
	"kcplab/internal/dir"
	"kcplab/internal/sockopt"
	"net"
	"net/netip"
	"sync/atomic"
	"time"
)

// Conn is the net.PacketConn returned by Link.Wrap. WriteTo goes through its direction's
// impairments; it returns len(p), nil for a datagram the link drops or delays, as a real network
// would, and the socket's error when it writes at once and the socket fails. Everything else is
// forwarded to the wrapped conn.
//
// Like the capture tap, a Conn exposes neither SyscallConn nor ReadMsgUDP, so kcp-go does not use
// its batch path (which would bypass the link) and sends one datagram per WriteTo.
type Conn struct {
	conn   net.PacketConn
	d      *dirLink
	src    netip.AddrPort // the wrapped conn's local address, if it is a UDP address
	closed atomic.Bool
}

var _ net.PacketConn = (*Conn)(nil)

// WriteTo sends p to addr through the link. After the Conn's Close it goes straight to the closed
// conn, for its error, and is not counted.
func (c *Conn) WriteTo(p []byte, addr net.Addr) (int, error) {
	if c.closed.Load() {
		return c.conn.WriteTo(p, addr)
	}
	return c.d.write(c, p, addr)
}

// ReadFrom reads from the wrapped conn.
func (c *Conn) ReadFrom(p []byte) (int, net.Addr, error) { return c.conn.ReadFrom(p) }

// Direction returns the direction of what is written to this conn.
func (c *Conn) Direction() dir.Dir { return c.d.dir }

// Unwrap returns the wrapped conn.
func (c *Conn) Unwrap() net.PacketConn { return c.conn }

// Close closes the wrapped conn. Copies of its datagrams still in the link are then recorded as
// FateClosed when they fall due: the link sends through the sender's socket.
func (c *Conn) Close() error {
	c.closed.Store(true)
	return c.conn.Close()
}

// LocalAddr returns the wrapped conn's local address.
func (c *Conn) LocalAddr() net.Addr { return c.conn.LocalAddr() }

// SetDeadline sets the wrapped conn's read and write deadlines.
func (c *Conn) SetDeadline(t time.Time) error { return c.conn.SetDeadline(t) }

// SetReadDeadline sets the wrapped conn's read deadline.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.conn.SetReadDeadline(t) }

// SetWriteDeadline sets the wrapped conn's write deadline (it also bounds the link's delayed writes).
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.conn.SetWriteDeadline(t) }

// SetReadBuffer sets the wrapped conn's socket receive buffer, if it has one.
func (c *Conn) SetReadBuffer(bytes int) error {
	return wrapErr(sockopt.SetReadBuffer(c.conn, bytes))
}

// SetWriteBuffer sets the wrapped conn's socket send buffer, if it has one.
func (c *Conn) SetWriteBuffer(bytes int) error {
	return wrapErr(sockopt.SetWriteBuffer(c.conn, bytes))
}

// SetDSCP sets the DSCP of the wrapped conn the way kcp-go does for an unwrapped one.
func (c *Conn) SetDSCP(dscp int) error { return wrapErr(sockopt.SetDSCP(c.conn, dscp)) }

// wrapErr names this package in a socket option's error.
func wrapErr(err error) error {
	if err != nil {
		return fmt.Errorf("link: %w", err)
	}
	return nil
}
