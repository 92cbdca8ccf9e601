package hosts

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
	"go.uber.org/goleak"
)

// newVeth makes a veth pair of hosts, closed at the test's end.
func newVeth(t *testing.T) *Veth {
	t.Helper()
	v, err := NewVeth()
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, v.Close()) })
	return v
}

// TestVethAddresses checks each host's links, addresses and routes: its loopback and its veth end
// with its address on the /30, the subnet's route, and no default route.
func TestVethAddresses(t *testing.T) {
	needHosts(t)
	t.Parallel()
	v := newVeth(t)
	for _, tc := range []struct {
		name string
		ns   *Namespace
		link string
		addr netip.Addr
	}{{"server", v.Server, vethServer, VethServerAddr}, {"client", v.Client, vethClient, VethClientAddr}} {
		t.Run(tc.name, func(t *testing.T) {
			nl := tc.ns.Netlink()
			links, err := nl.LinkList()
			require.NoError(t, err)
			var names []string
			for _, l := range links {
				names = append(names, l.Attrs().Name)
			}
			require.ElementsMatch(t, []string{"lo", tc.link}, names)
			l, err := nl.LinkByName(tc.link)
			require.NoError(t, err)
			require.Equal(t, MTU, l.Attrs().MTU)
			addrs, err := nl.AddrList(l, netlink.FAMILY_ALL)
			require.NoError(t, err)
			require.Len(t, addrs, 1, "%v", addrs)
			require.Equal(t, tc.addr.String(), addrs[0].IP.String())
			ones, _ := addrs[0].Mask.Size()
			require.Equal(t, vethPrefix, ones)
			routes, err := nl.RouteList(nil, netlink.FAMILY_V4)
			require.NoError(t, err)
			for _, r := range routes {
				require.NotNil(t, r.Dst, "a default route in %s: %v", tc.ns.Name, r)
				require.Equal(t, "198.18.1.0/30", r.Dst.String(), "a route out of the pair in %s: %v", tc.ns.Name, r)
			}
		})
	}
}

// TestVethCarriesUDP sends a datagram each way between the hosts: each arrives from the other host's
// address, the first well within the second an ARP retry would take (NewVeth waits until the ends
// carry packets).
func TestVethCarriesUDP(t *testing.T) {
	needHosts(t)
	t.Parallel()
	v := newVeth(t)
	var srv, cli *net.UDPConn
	require.NoError(t, v.Server.Do(func() (err error) {
		srv, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(VethServerAddr, 9000)))
		return err
	}))
	t.Cleanup(func() { srv.Close() })
	require.NoError(t, v.Client.Do(func() (err error) {
		cli, err = net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(VethServerAddr, 9000)))
		return err
	}))
	t.Cleanup(func() { cli.Close() })
	t0 := time.Now()
	_, err := cli.Write([]byte("ping"))
	require.NoError(t, err)
	buf := make([]byte, 16)
	require.NoError(t, srv.SetReadDeadline(time.Now().Add(2*time.Second)))
	n, from, err := srv.ReadFromUDPAddrPort(buf)
	require.NoError(t, err)
	require.Equal(t, "ping", string(buf[:n]))
	require.Equal(t, VethClientAddr, from.Addr().Unmap())
	_, err = srv.WriteToUDPAddrPort([]byte("pong"), from)
	require.NoError(t, err)
	require.NoError(t, cli.SetReadDeadline(time.Now().Add(2*time.Second)))
	n, err = cli.Read(buf)
	require.NoError(t, err)
	require.Equal(t, "pong", string(buf[:n]))
	require.Less(t, time.Since(t0), 500*time.Millisecond, "the first round trip")
}

// TestVethKeepsPacketsInside checks that neither host reaches anything outside the pair (no route:
// ENETUNREACH at the first send), and that the machine's own namespace holds neither end.
func TestVethKeepsPacketsInside(t *testing.T) {
	needHosts(t)
	t.Parallel()
	v := newVeth(t)
	for _, ns := range []*Namespace{v.Server, v.Client} {
		for _, out := range []string{"198.19.255.1:9", "198.18.0.1:9", "8.8.8.8:53", "10.0.0.1:9"} {
			err := sendFrom(ns, out)
			require.Error(t, err, "%s reached %s", ns.Name, out)
			require.True(t, errors.Is(err, syscall.ENETUNREACH), "%s to %s: %v", ns.Name, out, err)
		}
	}
	for _, name := range []string{vethServer, vethClient} {
		_, err := netlink.LinkByName(name)
		require.Error(t, err, "%s is in the machine's own namespace", name)
	}
}

// TestVethLeavesNothing checks that Close deletes both namespaces (and so the veth pair), and that
// a second Close is harmless.
func TestVethLeavesNothing(t *testing.T) {
	needHosts(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	v, err := NewVeth()
	require.NoError(t, err)
	names := []string{v.Server.Name, v.Client.Name}
	for _, n := range names {
		require.Contains(t, Owned(), n)
	}
	require.NoError(t, v.Close())
	require.NoError(t, v.Close())
	for _, n := range names {
		_, err := os.Stat(runDir + "/" + n)
		require.True(t, os.IsNotExist(err), "%s still exists", n)
		require.NotContains(t, Owned(), n)
	}
}
