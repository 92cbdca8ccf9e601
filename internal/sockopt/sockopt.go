// Package sockopt forwards the socket options kcp-go sets on its net.PacketConn (buffer sizes, DSCP)
// through a wrapper (the capture tap, the link) to the conn it wraps.
package sockopt

import (
	"fmt"
	"net"

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
