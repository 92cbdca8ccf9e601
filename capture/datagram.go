package capture

import (
	"net/netip"
	"time"

	"kcplab/internal/dir"
)

// Datagram is one UDP datagram as seen on the wire.
type Datagram struct {
	Time     time.Time
	Src, Dst netip.AddrPort
	Payload  []byte  // owned copy
	Side     dir.Dir // who sent it: dir.C2S the client, dir.S2C the server, dir.Unknown another address
}
