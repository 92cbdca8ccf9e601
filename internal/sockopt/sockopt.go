// Package sockopt forwards the socket options kcp-go sets on its net.PacketConn (buffer sizes, DSCP)
// through a wrapper (the capture tap, the link) to the conn it wraps.
package sockopt

import (
	"fmt"
	"net"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// SetReadBuffer sets conn's socket receive buffer, if it has one.
func SetReadBuffer(conn net.PacketConn, bytes int) error {
	c, ok := conn.(interface{ SetReadBuffer(int) error })
	if !ok {
		return fmt.Errorf("wrapped %T has no SetReadBuffer", conn)
	}
	return c.SetReadBuffer(bytes)
}

// SetWriteBuffer sets conn's socket send buffer, if it has one.
func SetWriteBuffer(conn net.PacketConn, bytes int) error {
	c, ok := conn.(interface{ SetWriteBuffer(int) error })
	if !ok {
		return fmt.Errorf("wrapped %T has no SetWriteBuffer", conn)
	}
	return c.SetWriteBuffer(bytes)
}

// SetDSCP sets conn's DSCP the way kcp-go does for an unwrapped conn: the conn's own SetDSCP if it has
// one, else the IPv4 TOS and/or the IPv6 traffic class of a net.Conn; it fails only if neither applies.
func SetDSCP(conn net.PacketConn, dscp int) error {
	if c, ok := conn.(interface{ SetDSCP(int) error }); ok {
		return c.SetDSCP(dscp)
	}
	nc, ok := conn.(net.Conn)
	if !ok {
		return fmt.Errorf("wrapped %T cannot set DSCP", conn)
	}
	err4 := ipv4.NewConn(nc).SetTOS(dscp << 2)
	err6 := ipv6.NewConn(nc).SetTrafficClass(dscp)
	if err4 != nil && err6 != nil {
		return fmt.Errorf("set DSCP %d: %w", dscp, err4)
	}
	return nil
}

// Forward is embedded by a net.PacketConn wrapper (the capture tap, the link's conn) to forward what
// the wrapper does not change to the conn it wraps: the local address, the deadlines and the socket
// options kcp-go sets. It holds the conn as a field, not embedded, so that a wrapper exposes neither
// SyscallConn nor ReadMsgUDP: kcp-go then sends and receives one datagram per call through it instead
// of taking its batch path around it.
type Forward struct {
	conn   net.PacketConn
	prefix string
}

// NewForward forwards to conn; prefix names the wrapper in a socket option's error (say "link").
func NewForward(conn net.PacketConn, prefix string) Forward {
	return Forward{conn: conn, prefix: prefix}
}

// Unwrap returns the wrapped conn.
func (f Forward) Unwrap() net.PacketConn { return f.conn }

// LocalAddr returns the wrapped conn's local address.
func (f Forward) LocalAddr() net.Addr { return f.conn.LocalAddr() }

// SetDeadline sets the wrapped conn's read and write deadlines.
func (f Forward) SetDeadline(t time.Time) error { return f.conn.SetDeadline(t) }

// SetReadDeadline sets the wrapped conn's read deadline.
func (f Forward) SetReadDeadline(t time.Time) error { return f.conn.SetReadDeadline(t) }

// SetWriteDeadline sets the wrapped conn's write deadline.
func (f Forward) SetWriteDeadline(t time.Time) error { return f.conn.SetWriteDeadline(t) }

// SetReadBuffer sets the wrapped conn's socket receive buffer, if it has one.
func (f Forward) SetReadBuffer(bytes int) error { return f.wrapErr(SetReadBuffer(f.conn, bytes)) }

// SetWriteBuffer sets the wrapped conn's socket send buffer, if it has one.
func (f Forward) SetWriteBuffer(bytes int) error { return f.wrapErr(SetWriteBuffer(f.conn, bytes)) }

// SetDSCP sets the DSCP of the wrapped conn the way kcp-go does for an unwrapped one.
func (f Forward) SetDSCP(dscp int) error { return f.wrapErr(SetDSCP(f.conn, dscp)) }

// wrapErr names the wrapper in a socket option's error.
func (f Forward) wrapErr(err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", f.prefix, err)
	}
	return nil
}
