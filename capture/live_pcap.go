//go:build pcap

package capture

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gopacket/gopacket/pcap"
)

const (
	liveSnapLen = 65535
	// liveBufferSize is libpcap's ring size. In immediate mode libpcap on Linux
	// uses fixed frames sized for the snap length (~64 KiB each), so the default
	// 2 MiB ring holds only ~31 packets and drops kcp-go's bursts; 128 MiB holds
	// ~2000, two full kcp-go windows of 1024.
	liveBufferSize  = 128 << 20
	liveReadTimeout = 50 * time.Millisecond
	liveMaxDrain    = time.Second // Close reads what libpcap still holds for at most this long
	liveMaxErrors   = 100         // consecutive read errors that end the capture
	capNetRaw       = 13          // CAP_NET_RAW's bit in CapEff
)

// LiveAvailable reports whether live capture can work here: it needs root or
// CAP_NET_RAW and the loopback interface LiveInterface. The error says what is
// missing and how to fix it.
func LiveAvailable() error {
	if !canCapture() {
		return ErrNotRoot
	}
	return checkInterface(LiveInterface)
}

// canCapture reports whether the process is root or has CAP_NET_RAW.
func canCapture() bool {
	if os.Geteuid() == 0 {
		return true
	}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(status), "\n") {
		if hex, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
			return err == nil && caps&(1<<capNetRaw) != 0
		}
	}
	return false
}

// liveSource captures with libpcap on one interface.
type liveSource struct {
	handle *pcap.Handle
	parser *udpParser // used by run only
	ports  []uint16
	sides  portSides
	rec    *recorder

	stop    atomic.Bool
	done    chan struct{}
	readErr error // set by run before done is closed

	closeOnce sync.Once
	stats     Stats
	closeErr  error
}

var _ Source = (*liveSource)(nil)

// NewLive starts capturing UDP datagrams to or from the given ports (all UDP
// if none) on iface with libpcap in immediate mode. Side is assigned by the
// ports that Wrap registers: the side whose local port is the source port.
func NewLive(iface string, ports ...uint16) (Source, error) {
	if !canCapture() {
		return nil, ErrNotRoot
	}
	if err := checkInterface(iface); err != nil {
		return nil, err
	}
	inactive, err := pcap.NewInactiveHandle(iface)
	if err != nil {
		return nil, fmt.Errorf("capture: live on %s: %w", iface, err)
	}
	defer inactive.CleanUp()
	for _, step := range []struct {
		what string
		err  error
	}{
		{"snap length", inactive.SetSnapLen(liveSnapLen)},
		{"buffer size", inactive.SetBufferSize(liveBufferSize)},
		{"promiscuous mode", inactive.SetPromisc(false)},
		{"timeout", inactive.SetTimeout(liveReadTimeout)},
		{"immediate mode", inactive.SetImmediateMode(true)},
	} {
		if step.err != nil {
			return nil, fmt.Errorf("capture: live on %s: set %s: %w", iface, step.what, step.err)
		}
	}
	handle, err := inactive.Activate()
	if err != nil {
		return nil, fmt.Errorf("capture: live on %s: activate: %w", iface, err)
	}
	filter := bpfFilter(ports)
	if err := handle.SetBPFFilter(filter); err != nil {
		handle.Close()
		return nil, fmt.Errorf("capture: live on %s: BPF filter %q: %w", iface, filter, err)
	}
	info, ok := linkTypes[handle.LinkType()]
	if !ok {
		handle.Close()
		return nil, fmt.Errorf("capture: live on %s: link type %d is not supported (supported: %s)", iface, uint32(handle.LinkType()), supportedLinkTypes)
	}
	s := &liveSource{handle: handle, parser: newUDPParser(info), ports: slices.Clone(ports), rec: newRecorder(), done: make(chan struct{})}
	go s.run()
	return s, nil
}

// run reads packets until Close, then drains what libpcap still holds.
func (s *liveSource) run() {
	defer close(s.done)
	var drainUntil time.Time
	errs := 0
	for {
		if s.stop.Load() {
			if drainUntil.IsZero() {
				drainUntil = time.Now().Add(liveMaxDrain)
			} else if time.Now().After(drainUntil) {
				return
			}
		}
		data, ci, err := s.handle.ZeroCopyReadPacketData() // data is valid until the next read
		switch {
		case err == nil:
			errs = 0
			s.record(data, ci.Timestamp)
		case errors.Is(err, pcap.NextErrorTimeoutExpired):
			errs = 0
			if s.stop.Load() {
				return // nothing pending: drained
			}
		case errors.Is(err, io.EOF):
			return
		default:
			errs++
			if errs >= liveMaxErrors {
				s.readErr = fmt.Errorf("capture: live: %d read errors in a row, last: %w", errs, err)
				return
			}
		}
	}
}

// record decodes one captured frame and stores a copy if it is a trial datagram.
func (s *liveSource) record(frame []byte, ts time.Time) {
	d := s.parser.decode(frame, ts)
	if !d.udp {
		return
	}
	dg := d.dg
	if len(s.ports) > 0 && !slices.Contains(s.ports, dg.Src.Port()) && !slices.Contains(s.ports, dg.Dst.Port()) {
		return
	}
	dg.Side = s.sides.side(dg.Src.Port())
	s.rec.add(dg, true)
}

// Wrap returns conn unchanged and remembers that its local port belongs to side.
func (s *liveSource) Wrap(conn net.PacketConn, side Side) net.PacketConn {
	s.sides.set(conn, side)
	return conn
}

// Datagrams returns what has been captured so far, in wire order (by Time).
// A datagram captured before Wrap registered its source port gets its Side now.
func (s *liveSource) Datagrams() []Datagram {
	dgs := s.rec.snapshot()
	for i := range dgs {
		if dgs[i].Side == SideUnknown {
			dgs[i].Side = s.sides.side(dgs[i].Src.Port())
		}
	}
	return dgs
}

// Notify returns a channel that receives whenever a new datagram is recorded.
func (s *liveSource) Notify() <-chan struct{} { return s.rec.notify }

// Close stops capturing after draining what libpcap holds, waits for the
// reader goroutine, closes the handle and returns libpcap's counters.
func (s *liveSource) Close() (Stats, error) {
	s.closeOnce.Do(func() {
		s.stop.Store(true)
		<-s.done
		st, err := s.handle.Stats()
		s.handle.Close()
		s.rec.close()
		s.stats = Stats{Captured: s.rec.len()}
		if err == nil {
			s.stats.Dropped = st.PacketsDropped
			s.stats.IfDropped = st.PacketsIfDropped
			s.stats.Received = st.PacketsReceived
		}
		s.closeErr = errors.Join(s.readErr, wrapStatsErr(err))
	})
	return s.stats, s.closeErr
}

// wrapStatsErr labels an error from pcap's Stats.
func wrapStatsErr(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("capture: live: stats: %w", err)
}
