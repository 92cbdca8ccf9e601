package hosts

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// TUN is a TUN device (IP packets, no packet information header) inside a namespace, as a
// net.PacketConn: ReadFrom returns the next IP packet the kernel routed into the device, WriteTo
// hands an IP packet to the kernel as if it had arrived on the device (the address is ignored).
type TUN struct {
	f     *os.File
	name  string
	local netip.Addr
}

var _ net.PacketConn = (*TUN)(nil)

// OpenTUN creates TUN device name in ns, with address local and a point-to-point route to peer (a /32
// each, nothing else), and brings it up with the given MTU.
func OpenTUN(ns *Namespace, name string, local, peer netip.Addr, mtu int) (*TUN, error) {
	var t *TUN
	err := ns.Do(func() error {
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
		if err != nil {
			return fmt.Errorf("open /dev/net/tun: %w", err)
		}
		ifr, err := unix.NewIfreq(name)
		if err != nil {
			unix.Close(fd)
			return err
		}
		ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
		if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
			unix.Close(fd)
			return fmt.Errorf("TUNSETIFF %s: %w", name, err)
		}
		t = &TUN{f: os.NewFile(uintptr(fd), "/dev/net/tun:"+name), name: name, local: local}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("hosts: TUN %s in %s: %w", name, ns.Name, err)
	}
	nl := ns.Netlink()
	link, err := nl.LinkByName(name)
	if err == nil {
		err = nl.LinkSetMTU(link, mtu)
	}
	if err == nil {
		err = nl.AddrAdd(link, &netlink.Addr{
			IPNet: &net.IPNet{IP: local.AsSlice(), Mask: net.CIDRMask(local.BitLen(), local.BitLen())},
			Peer:  &net.IPNet{IP: peer.AsSlice(), Mask: net.CIDRMask(peer.BitLen(), peer.BitLen())},
		})
	}
	if err == nil {
		err = nl.LinkSetUp(link)
	}
	if err != nil {
		t.Close()
		return nil, fmt.Errorf("hosts: configure TUN %s in %s: %w", name, ns.Name, err)
	}
	return t, nil
}

// ReadFrom reads one IP packet; the address is the device's own.
func (t *TUN) ReadFrom(p []byte) (int, net.Addr, error) {
	n, err := t.f.Read(p)
	return n, t.LocalAddr(), err
}

// WriteTo writes one IP packet into the namespace; addr is ignored.
func (t *TUN) WriteTo(p []byte, _ net.Addr) (int, error) { return t.f.Write(p) }

// Close removes the device.
func (t *TUN) Close() error { return t.f.Close() }

// LocalAddr returns the device's address.
func (t *TUN) LocalAddr() net.Addr { return &net.IPAddr{IP: t.local.AsSlice()} }

// SetDeadline sets the read and write deadlines.
func (t *TUN) SetDeadline(d time.Time) error { return t.f.SetDeadline(d) }

// SetReadDeadline sets the read deadline.
func (t *TUN) SetReadDeadline(d time.Time) error { return t.f.SetReadDeadline(d) }

// SetWriteDeadline sets the write deadline.
func (t *TUN) SetWriteDeadline(d time.Time) error { return t.f.SetWriteDeadline(d) }
