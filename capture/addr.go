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

// loopbackLike returns the loopback address of addr's family: 127.0.0.1 for
// IPv4, ::1 for IPv6. It stands in for an unspecified (0.0.0.0 or [::]) local
// address, which the kernel replaces with a loopback source on 127.0.0.0/8.
func loopbackLike(addr netip.Addr) netip.Addr {
	if addr.Is4() {
		return netip.AddrFrom4([4]byte{127, 0, 0, 1})
	}
	return netip.IPv6Loopback()
}
