package hosts

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"
)

// The two hosts of a Veth, on one /30 of 198.18.0.0/15: the server's and the client's addresses.
var (
	VethServerAddr = netip.MustParseAddr("198.18.1.1")
	VethClientAddr = netip.MustParseAddr("198.18.1.2")
)

// vethPrefix is the length of the veth pair's subnet: the two addresses and nothing else.
const vethPrefix = 30

// The veth pair's ends: vethServer in the server's namespace, vethClient in the client's.
const (
	vethServer = "kv0"
	vethClient = "kv1"
)

// Veth is two hosts (namespaces) joined by a veth pair: the kernel's own IP path between two
// network stacks, with nothing of this process in it (unlike Pair, whose packets cross a link this
// process runs). Each end holds its host's address on a /30 and that subnet's route, no default
// route: neither host reaches anything but the other.
type Veth struct {
	Server, Client *Namespace
}

// NewVeth makes the two namespaces, the veth pair (created in the server's namespace, so that the
// machine's own namespace never holds it, its client end then moved to the client's), the addresses
// and the links up. Close undoes all of it.
func NewVeth() (v *Veth, err error) {
	v = &Veth{}
	defer func() {
		if err != nil {
			_ = v.Close()
		}
	}()
	if v.Server, err = NewNamespace("server"); err != nil {
		return nil, err
	}
	if v.Client, err = NewNamespace("client"); err != nil {
		return nil, err
	}
	snl := v.Server.Netlink()
	pair := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: vethServer, MTU: MTU}, PeerName: vethClient}
	if err := snl.LinkAdd(pair); err != nil {
		return nil, fmt.Errorf("hosts: veth pair in %s: %w", v.Server.Name, err)
	}
	peerEnd, err := snl.LinkByName(vethClient)
	if err != nil {
		return nil, fmt.Errorf("hosts: veth pair's end %s: %w", vethClient, err)
	}
	if err := snl.LinkSetNsFd(peerEnd, int(v.Client.handle)); err != nil {
		return nil, fmt.Errorf("hosts: move %s to %s: %w", vethClient, v.Client.Name, err)
	}
	ends := []struct {
		ns   *Namespace
		name string
		addr netip.Addr
	}{{v.Server, vethServer, VethServerAddr}, {v.Client, vethClient, VethClientAddr}}
	var waits []*linkWait
	defer func() {
		for _, w := range waits {
			w.stop()
		}
	}()
	for _, end := range ends {
		w, err := watchLink(end.ns, end.name)
		if err != nil {
			return nil, err
		}
		waits = append(waits, w)
		if err := upWithAddr(end.ns, end.name, end.addr); err != nil {
			return nil, err
		}
	}
	for _, w := range waits {
		if err := w.untilUp(vethUpWithin); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// vethUpWithin bounds the wait for the veth pair's ends to carry packets.
const vethUpWithin = 5 * time.Second

// linkWait follows one link's state changes in a namespace.
type linkWait struct {
	ns      *Namespace
	name    string
	updates chan netlink.LinkUpdate
	done    chan struct{}
}

// watchLink starts following link name in ns (its present state first).
func watchLink(ns *Namespace, name string) (*linkWait, error) {
	w := &linkWait{ns: ns, name: name, updates: make(chan netlink.LinkUpdate, 16), done: make(chan struct{})}
	h := ns.handle
	if err := netlink.LinkSubscribeWithOptions(w.updates, w.done, netlink.LinkSubscribeOptions{Namespace: &h, ListExisting: true}); err != nil {
		return nil, fmt.Errorf("hosts: follow %s in %s: %w", name, ns.Name, err)
	}
	return w, nil
}

// untilUp waits until the link is operationally up. The kernel's link watch, rate-limited to about
// once a second, sets that state, attaches the queueing discipline and only then announces the
// change; until then what is sent is dropped, the first ARP request included, which would cost the
// first datagram a second (ARP's retry).
func (w *linkWait) untilUp(within time.Duration) error {
	timer := time.NewTimer(within)
	defer timer.Stop()
	for {
		select {
		case u, ok := <-w.updates:
			if !ok {
				return fmt.Errorf("hosts: following %s in %s ended", w.name, w.ns.Name)
			}
			a := u.Attrs()
			if a.Name == w.name && a.OperState == netlink.OperUp {
				return nil
			}
		case <-timer.C:
			return fmt.Errorf("hosts: %s in %s not up within %v", w.name, w.ns.Name, within)
		}
	}
}

// stop ends the following and waits for its goroutine.
func (w *linkWait) stop() {
	close(w.done)
	for range w.updates {
	}
}

// upWithAddr gives link name in ns the address addr on the veth pair's /30 and brings it up.
func upWithAddr(ns *Namespace, name string, addr netip.Addr) error {
	nl := ns.Netlink()
	l, err := nl.LinkByName(name)
	if err == nil {
		err = nl.AddrAdd(l, &netlink.Addr{IPNet: &net.IPNet{IP: addr.AsSlice(), Mask: net.CIDRMask(vethPrefix, 32)}})
	}
	if err == nil {
		err = nl.LinkSetUp(l)
	}
	if err != nil {
		return fmt.Errorf("hosts: configure %s in %s: %w", name, ns.Name, err)
	}
	return nil
}

// Close deletes the namespaces; the veth pair goes with them. Close is idempotent.
func (v *Veth) Close() error {
	var errs []error
	for _, n := range []*Namespace{v.Client, v.Server} {
		if n != nil {
			errs = append(errs, n.Close())
		}
	}
	return errors.Join(errs...)
}
