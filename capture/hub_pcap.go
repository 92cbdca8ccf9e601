//go:build pcap

package capture

import (
	"errors"
	"fmt"
	"time"

	"github.com/gopacket/gopacket/pcap"

	"kcplab/internal/linklayer"
)

const (
	// liveSnapLen is the snap length. In immediate mode libpcap on Linux uses
	// TPACKET_V2, whose ring holds fixed frames of TPACKET_ALIGN(64 + snap
	// length) bytes in page-sized (or larger power-of-two) blocks: with a snap
	// length of 65535 each frame takes a 128 KiB block, so the 128 MiB ring
	// held only 1,023 loopback datagrams (lo shows each one twice) and dropped
	// kcp-go's window-sized bursts. 1984 makes 2048-byte frames, two per page:
	// 65,536 frames, about 32,700 loopback datagrams. It covers kcp-go's
	// largest datagram (1500 bytes, mtuLimit) with Ethernet and IPv6 headers;
	// a longer datagram is recorded cut short and reported by Close.
	liveSnapLen = 1984
	// liveBufferSize is libpcap's ring size, mapped once per Hub.
	liveBufferSize = 128 << 20
	// liveReadTimeout bounds one read; a Close on an idle interface waits
	// about two of them (see barrier).
	liveReadTimeout = 10 * time.Millisecond
)

// OpenHub opens one libpcap handle on iface (immediate mode, a 128 MiB ring, BPF filter "udp") and
// starts its reader goroutine. It fails with ErrNotRoot without root or CAP_NET_RAW, and with
// ErrNoPcapBuild in a binary built without the 'pcap' build tag.
func OpenHub(iface string) (*Hub, error) {
	return openPcapHub(iface, "udp")
}

// openPcapHub opens a Hub whose kernel filter is filter.
func openPcapHub(iface, filter string) (*Hub, error) {
	if !canCapture() {
		return nil, ErrNotRoot
	}
	if err := checkInterface(iface); err != nil {
		return nil, err
	}
	handle, err := openHandle(iface, filter)
	if err != nil {
		return nil, err
	}
	info, ok := linklayer.Lookup(handle.LinkType())
	if !ok {
		handle.Close()
		return nil, fmt.Errorf("capture: live on %s: link type %d is not supported (supported: %s)", iface, uint32(handle.LinkType()), linklayer.Supported)
	}
	return newHub(iface, pcapReader{handle}, info), nil
}

// openHandle activates a libpcap handle on iface in immediate mode with a
// finite read timeout and installs filter.
func openHandle(iface, filter string) (*pcap.Handle, error) {
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
	if err := handle.SetBPFFilter(filter); err != nil {
		handle.Close()
		return nil, fmt.Errorf("capture: live on %s: BPF filter %q: %w", iface, filter, err)
	}
	return handle, nil
}

// pcapReader is the frameReader of a libpcap handle.
type pcapReader struct{ h *pcap.Handle }

// read returns the next frame without copying it (valid until the next read).
func (r pcapReader) read() ([]byte, time.Time, error) {
	data, ci, err := r.h.ZeroCopyReadPacketData()
	if errors.Is(err, pcap.NextErrorTimeoutExpired) {
		return nil, time.Time{}, errReadTimeout
	}
	return data, ci.Timestamp, err
}

// counters returns libpcap's cumulative counters.
func (r pcapReader) counters() (pcapCounters, error) {
	st, err := r.h.Stats()
	if err != nil {
		return pcapCounters{}, err
	}
	return pcapCounters{received: st.PacketsReceived, dropped: st.PacketsDropped, ifDropped: st.PacketsIfDropped}, nil
}

// close closes the handle.
func (r pcapReader) close() { r.h.Close() }
