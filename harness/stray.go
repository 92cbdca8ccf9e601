package harness

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
)

// StraySocket binds a UDP socket on a loopback address of its own, for a role to send stray
// datagrams from: an address that is neither the trial's client nor its server, so that what
// travels between it and the server has no direction on the ladder (DirUnknown) and a session it
// makes has it as its remote address (Trace.ServerPeer). The capture records what passes between it
// and the server, as everything to or from the server's port.
//
// Its port lies below the kernel's ephemeral range, from which every trial's own sockets take theirs
// (when the range is known, on Linux): so a stray never takes the port of another running trial's
// closed client, whose live capture, dispatched by port, would record the stray's datagrams as its
// own. The trial's teardown closes the socket, after the sessions; a role may close it earlier.
func (env *Env) StraySocket() (*net.UDPConn, error) {
	env.mu.Lock()
	defer env.mu.Unlock()
	if env.done {
		return nil, ErrTornDown
	}
	sock, err := listenBelowEphemeral()
	if err != nil {
		return nil, fmt.Errorf("harness: StraySocket: %w", err)
	}
	env.socks = append(env.socks, sock)
	env.strays = append(env.strays, sock.LocalAddr().(*net.UDPAddr).AddrPort())
	return sock, nil
}

// strayTries bounds how many random ports below the ephemeral range StraySocket tries before it lets
// the kernel choose.
const strayTries = 32

// listenBelowEphemeral binds a loopback UDP socket on a random port from 1024 up to the ephemeral
// range's low end, or on a port the kernel chooses when that range is unknown or no port was free.
func listenBelowEphemeral() (*net.UDPConn, error) {
	if lo := ephemeralLow(); lo > 2048 {
		for range strayTries {
			c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1024 + rand.IntN(lo-1024)})
			if err == nil {
				return c, nil
			}
		}
	}
	return net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
}

// ephemeralLow is the low end of Linux's ephemeral port range, or 0 when unknown.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	var lo, hi int
	if _, err := fmt.Sscan(string(b), &lo, &hi); err != nil {
		return 0
	}
	return lo
}
