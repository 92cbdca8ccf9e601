package harness

import (
	"net"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTrialSocketsSkipHeldPorts replays the reuse that once failed a live run: a trial's client
// session closed its socket while the trial still ran, and the kernel gave that port to the next
// trial. The next trial's sockets must come from other ports, and the port is free again once the
// first trial releases it.
func TestTrialSocketsSkipHeldPorts(t *testing.T) {
	srv, cli, _, cliAddr, release, err := trialSockets(ListenLoopback)
	require.NoError(t, err)
	defer srv.Close()
	cli.Close() // like the client role's Close: the port is free in the kernel, still held by the trial

	reused := cliAddr.Port()
	calls := 0
	// The first socket offered is on the freed port, as the kernel may choose.
	listen := func() (*net.UDPConn, netip.AddrPort, error) {
		calls++
		if calls == 1 {
			c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(cliAddr))
			if err != nil {
				return nil, netip.AddrPort{}, err
			}
			return c, cliAddr, nil
		}
		return ListenLoopback()
	}
	srv2, cli2, srv2Addr, cli2Addr, release2, err := trialSockets(listen)
	require.NoError(t, err)
	assert.NotEqual(t, reused, srv2Addr.Port(), "server socket on a port a running trial holds")
	assert.NotEqual(t, reused, cli2Addr.Port(), "client socket on a port a running trial holds")
	assert.Greater(t, calls, 2, "the held port was not refused")
	srv2.Close()
	cli2.Close()
	release2()

	release()
	trialPorts.Lock()
	defer trialPorts.Unlock()
	assert.False(t, trialPorts.held[reused], "port still held after release")
	assert.False(t, trialPorts.held[srv2Addr.Port()] || trialPorts.held[cli2Addr.Port()], "ports still held after release")
}

// TestTrialSocketsBounded gives up, with an error, when every server port offered is held.
func TestTrialSocketsBounded(t *testing.T) {
	srv, cli, srvAddr, _, release, err := trialSockets(ListenLoopback)
	require.NoError(t, err)
	defer release()
	defer cli.Close()
	srv.Close()
	calls := 0
	listen := func() (*net.UDPConn, netip.AddrPort, error) {
		calls++
		if calls%2 == 0 {
			return ListenLoopback()
		}
		c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(srvAddr))
		if err != nil {
			return nil, netip.AddrPort{}, err
		}
		return c, srvAddr, nil
	}
	_, _, _, _, _, err = trialSockets(listen)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no pair of loopback ports")
	assert.Equal(t, 2*maxPortTries, calls)
}
