package capture

import (
	"errors"
	"fmt"
	"net"
	"sync"

	"kcplab/internal/dir"
)

// Errors LiveAvailable and OpenHub return when live capture cannot work here.
var (
	// ErrNoPcapBuild is returned by a binary built without the 'pcap' build tag.
	ErrNoPcapBuild = errors.New("live capture needs libpcap: this binary was built without the 'pcap' build tag; " +
		"install libpcap-dev and run `make capture` (or go build -tags pcap)")
	// ErrNotRoot is returned when the process may not open a capture socket.
	ErrNotRoot = errors.New("live capture needs root or CAP_NET_RAW: `make capture` grants bin/kcplab cap_net_raw " +
		"(sudo setcap cap_net_raw=eip bin/kcplab; lost when the binary is rebuilt), or run it as root")
)

// LiveInterface is the interface LiveAvailable checks: Linux's loopback.
const LiveInterface = "lo"

// checkInterface reports an error if iface does not exist.
func checkInterface(iface string) error {
	if _, err := net.InterfaceByName(iface); err != nil {
		return fmt.Errorf("live capture needs the network interface %q: %w", iface, err)
	}
	return nil
}

// portSides maps local ports to the side that owns them (live capture's
// replacement for the tap's address table).
type portSides struct {
	mu    sync.RWMutex
	sides map[uint16]dir.Dir
}

// set records that the conn's local port belongs to side.
func (p *portSides) set(conn net.PacketConn, side dir.Dir) {
	if conn == nil {
		return
	}
	ap, ok := addrPortOf(conn.LocalAddr())
	if !ok {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.sides == nil {
		p.sides = map[uint16]dir.Dir{}
	}
	p.sides[ap.Port()] = side
}

// side returns the side owning port, or dir.Unknown.
func (p *portSides) side(port uint16) dir.Dir {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.sides[port]
}
