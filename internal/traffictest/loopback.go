package traffictest

import (
	"net"
	"testing"
)

// Loopback opens a UDP socket on 127.0.0.1 with an ephemeral port, closed at the end of the test.
func Loopback(tb testing.TB) *net.UDPConn {
	tb.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}
