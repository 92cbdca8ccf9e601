package capture

import (
	"net"
	"net/netip"
)

// addrPortOf converts a net.Addr to an unmapped netip.AddrPort. It reports
// false when the address is neither a *net.UDPAddr nor parseable as ip:port.
func addrPortOf(a net.Addr) (netip.AddrPort, bool) {
	switch v := a.(type) {
	case nil:
		return netip.AddrPort{}, false
	case *net.UDPAddr:
		if v == nil {
			return netip.AddrPort{}, false
		}
		ip, ok := netip.AddrFromSlice(v.IP)
		if !ok {
			return netip.AddrPort{}, false
		}
		return netip.AddrPortFrom(ip.Unmap(), uint16(v.Port)), true
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
}
