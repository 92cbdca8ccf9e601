package capture

import (
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"kcplab/internal/dir"
	"kcplab/internal/sockopt"
)

// Tap is the net.PacketConn returned by TapSource.Wrap. It forwards every call
// to the wrapped conn and records each successful WriteTo (Src = the conn's
// local address, Dst = the target, Side = the wrapped side, Time taken just
// before the syscall) and each ReadFrom whose sender is not another conn of the
// same TapSource (that datagram was already recorded when it was sent).
// A receive is recognised as another conn's send by its exact address; conns
// must be bound to a specific address (kcplab binds 127.0.0.1).
//
// The tap changes the syscall pattern but not the datagrams: a Tap does not
// expose SyscallConn or ReadMsgUDP, so kcp-go on Linux does not use its
// sendmmsg/recvmmsg batch path (which would bypass the tap) and sends and
// receives one datagram per syscall instead.
type Tap struct {
	sockopt.Forward // the rest, to the wrapped conn
	src             *TapSource
	side            dir.Dir
	local           netip.AddrPort
	sent            atomic.Uint64
	received        atomic.Uint64
}

var _ net.PacketConn = (*Tap)(nil)

// ReadFrom reads one datagram from the wrapped conn and records it unless it
// came from a conn wrapped by the same TapSource.
func (t *Tap) ReadFrom(p []byte) (int, net.Addr, error) {
	n, addr, err := t.Unwrap().ReadFrom(p)
	if err != nil {
		return n, addr, err
	}
	now := time.Now()
	t.received.Add(1)
	from, ok := addrPortOf(addr)
	if ok && t.src.wrapped(from) {
		return n, addr, nil
	}
	t.src.rec.add(Datagram{Time: now, Src: from, Dst: t.local, Payload: p[:n], Side: dir.Unknown}, true)
	return n, addr, nil
}

// WriteTo sends one datagram through the wrapped conn and records it if the
// send succeeded.
func (t *Tap) WriteTo(p []byte, addr net.Addr) (int, error) {
	now := time.Now()
	n, err := t.Unwrap().WriteTo(p, addr)
	if err != nil {
		return n, err
	}
	t.sent.Add(1)
	dst, _ := addrPortOf(addr)
	t.src.rec.add(Datagram{Time: now, Src: t.local, Dst: dst, Payload: p[:n], Side: t.side}, true)
	return n, nil
}

// Sent returns the number of successful WriteTo calls.
func (t *Tap) Sent() uint64 { return t.sent.Load() }

// Received returns the number of successful ReadFrom calls, including
// datagrams from other conns of the same TapSource (not recorded twice).
func (t *Tap) Received() uint64 { return t.received.Load() }

// Side returns the side this Tap attributes its sends to.
func (t *Tap) Side() dir.Dir { return t.side }

// Close closes the wrapped conn.
func (t *Tap) Close() error { return t.Unwrap().Close() }
