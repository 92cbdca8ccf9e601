package capture

import (
	"net/netip"
	"time"
)

// Side names the endpoint that sent a datagram.
type Side uint8

// The sides of a trial.
const (
	// SideUnknown is a sender that is neither the trial's client nor its server.
	SideUnknown Side = iota
	// SideClient is the trial's client.
	SideClient
	// SideServer is the trial's server (listener).
	SideServer
)

// String returns "?", "client" or "server".
func (s Side) String() string {
	switch s {
	case SideClient:
		return "client"
	case SideServer:
		return "server"
	default:
		return "?"
	}
}

// Datagram is one UDP datagram as seen on the wire.
type Datagram struct {
	Time     time.Time
	Src, Dst netip.AddrPort
	Payload  []byte // owned copy
	Side     Side   // who sent it
}
