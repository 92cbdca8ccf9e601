package capture

import (
	"bytes"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/stretchr/testify/require"

	"kcplab/internal/linklayer"
)

// fakeFrame is one frame a fakeReader hands out.
type fakeFrame struct {
	data []byte
	ts   time.Time
}

// fakeReader is a frameReader fed by the test: frames come from a channel,
// an optional gate holds each read back, and the counters are the test's.
type fakeReader struct {
	frames  chan fakeFrame
	gate    chan struct{} // if set, every read first waits for it to be closed (or for wake)
	timeout time.Duration // how long a read waits for a frame
	fail    error         // if set, every read returns it
	wake    chan struct{} // closed at cleanup: reads stop waiting, so the Hub can stop

	mu     sync.Mutex
	c      pcapCounters
	closed bool
}

func newFakeReader(timeout time.Duration) *fakeReader {
	return &fakeReader{frames: make(chan fakeFrame, 1024), timeout: timeout, wake: make(chan struct{})}
}

func (f *fakeReader) read() ([]byte, time.Time, error) {
	if f.fail != nil {
		return nil, time.Time{}, f.fail
	}
	timer := time.NewTimer(f.timeout)
	defer timer.Stop()
	if f.gate != nil {
		// A reader held back (descheduled), not an idle one: it never times out here, since a timed-out
		// read tells the Hub that nothing was pending when it began, and frames are.
		select {
		case <-f.gate:
		case <-f.wake:
			return nil, time.Time{}, errReadTimeout
		}
	}
	select {
	case fr := <-f.frames:
		return fr.data, fr.ts, nil
	case <-timer.C:
		return nil, time.Time{}, errReadTimeout
	case <-f.wake:
		return nil, time.Time{}, errReadTimeout
	}
}

func (f *fakeReader) counters() (pcapCounters, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.c, nil
}

func (f *fakeReader) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
}

// addDrops adds n drops (and receptions) to the counters.
func (f *fakeReader) addDrops(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.c.dropped += n
	f.c.received += n
}

// newFakeHub returns a Hub reading Ethernet frames from f; cleanup wakes f's
// reads and closes the Hub.
func newFakeHub(tb testing.TB, f *fakeReader) *Hub {
	tb.Helper()
	info, _ := linklayer.Lookup(layers.LinkTypeEthernet)
	h := newHub("fake0", f, info)
	h.limit = testCatchUpLimit
	tb.Cleanup(func() {
		close(f.wake)
		_, _ = h.Close()
	})
	return h
}

// testCatchUpLimit is how long a test's hub, fake or libpcap, waits in Close for its reader. These tests
// are about routing, counting, completeness and the barrier, not the limit (TestHubCatchUp sets its own
// to reach it), and make test runs them under -race beside the live experiments, where the race
// detector slows their reader as well as the machine's stalls: they wait twice live capture's
// hubCatchUpLimit.
const testCatchUpLimit = 2 * hubCatchUpLimit

// fakeHubSource is a fake hub whose reader times out every 5 ms, with one Source open on ports.
func fakeHubSource(tb testing.TB, ports ...uint16) (*fakeReader, *Hub, Source) {
	tb.Helper()
	f := newFakeReader(5 * time.Millisecond)
	h := newFakeHub(tb, f)
	src, err := h.Source(ports...)
	require.NoError(tb, err)
	return f, h, src
}

// ethUDP returns the Ethernet frame of a UDP datagram between 127.0.0.1 ports.
func ethUDP(tb testing.TB, srcPort, dstPort uint16, payload string) []byte {
	tb.Helper()
	lo := netip.MustParseAddr("127.0.0.1")
	s4 := lo.As4()
	eth := &layers.Ethernet{SrcMAC: make([]byte, 6), DstMAC: make([]byte, 6), EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: s4[:], DstIP: s4[:]}
	udp := &layers.UDP{SrcPort: layers.UDPPort(srcPort), DstPort: layers.UDPPort(dstPort)}
	require.NoError(tb, udp.SetNetworkLayerForChecksum(ip))
	buf := gopacket.NewSerializeBuffer()
	require.NoError(tb, gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		eth, ip, udp, gopacket.Payload(payload)))
	return bytes.Clone(buf.Bytes())
}
