//go:build pcap

package capture

import (
	"bytes"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"kcplab/internal/dir"
	"kcplab/internal/kcpleak"
	"kcplab/internal/traffictest"
)

// openTestHub opens a Hub on lo (skipping without root); cleanup closes it.
func openTestHub(t *testing.T) *Hub {
	t.Helper()
	if err := LiveAvailable(); err != nil {
		t.Skip(err)
	}
	h, err := OpenHub(LiveInterface)
	require.NoError(t, err)
	h.limit = testCatchUpLimit
	t.Cleanup(func() { _, _ = h.Close() })
	return h
}

// TestHubConcurrentSourcesMatchTaps runs several kcp-go echo pairs at once,
// each captured by its own Source of one Hub and by its own tap: every Source
// must hold exactly its pair's datagrams, as its tap saw them. Each Source is
// closed as soon as its tap is quiet, without waiting for the live capture:
// Close's barrier makes it complete.
func TestHubConcurrentSourcesMatchTaps(t *testing.T) {
	t.Parallel()
	h := openTestHub(t)
	const pairs = 4
	t.Run("pairs", func(t *testing.T) {
		for i := range pairs {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				srvUDP, cliUDP := traffictest.Loopback(t), traffictest.Loopback(t)
				live, err := h.Source(udpPort(srvUDP), udpPort(cliUDP))
				require.NoError(t, err)
				tap := NewTap()
				wrap := func(c net.PacketConn, side dir.Dir) net.PacketConn { return live.Wrap(tap.Wrap(c, side), side) }
				p := newKCPPairOn(t, srvUDP, cliUDP, wrap)
				var msgs [][]byte
				for j := range 20 {
					msgs = append(msgs, bytes.Repeat([]byte{byte('a' + i), byte(j)}, 1+j*211)) // up to 8 KB: several segments
				}
				echo(t, p, msgs, 20*time.Second)
				waitQuiet(t, tap.Notify(), 300*time.Millisecond, 20*time.Second)
				want := tap.Datagrams()
				st, err := live.Close()
				require.NoError(t, err)
				got := live.Datagrams()
				t.Logf("pair %d: tap %d datagrams, live %d; stats %+v", i, len(want), len(got), st)
				assert.Zero(t, st.Dropped)
				assert.Zero(t, st.IfDropped)
				assert.Equal(t, len(got), st.Captured)
				require.Len(t, got, len(want))
				assertSameByDirection(t, want, got)
			})
		}
	})
	st, err := h.Close()
	require.NoError(t, err)
	t.Logf("hub: %+v", st)
}

// TestHubCloseHasLastDatagram sends one datagram and closes the Source at
// once, many times: the datagram must be in the Source, whether the interface
// is idle (the barrier ends on an empty read) or busy with other traffic (it
// ends on a later frame).
func TestHubCloseHasLastDatagram(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		busy bool
	}{
		{"idle", false},
		{"busy", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := openTestHub(t)
			a, b := traffictest.Loopback(t), traffictest.Loopback(t)
			if tt.busy {
				stop := startNoise(t)
				t.Cleanup(stop)
			}
			const rounds = 30
			var slowest time.Duration
			for i := range rounds {
				src, err := h.Source(udpPort(a), udpPort(b))
				require.NoError(t, err)
				payload := []byte(fmt.Sprintf("last datagram %d", i))
				_, err = a.WriteTo(payload, b.LocalAddr())
				require.NoError(t, err)
				start := time.Now()
				st, err := src.Close()
				slowest = max(slowest, time.Since(start))
				require.NoError(t, err)
				require.Equal(t, 1, st.Captured, "round %d", i)
				dgs := src.Datagrams()
				require.Len(t, dgs, 1)
				assert.Equal(t, payload, dgs[0].Payload)
				assert.Equal(t, udpPort(a), dgs[0].Src.Port())
			}
			t.Logf("%d rounds, slowest Close %v", rounds, slowest)
		})
	}
}

// startNoise sends datagrams between two unregistered sockets every 200 µs
// until the returned stop is called or the test ends.
func startNoise(t *testing.T) (stop func()) {
	t.Helper()
	from, to := traffictest.Loopback(t), traffictest.Loopback(t)
	return traffictest.Every(t, 200*time.Microsecond, func() { _, _ = from.WriteTo([]byte("noise"), to.LocalAddr()) })
}

func TestHubPortTakenAndClose(t *testing.T) {
	t.Parallel()
	h := openTestHub(t)
	c := traffictest.Loopback(t)
	src, err := h.Source(udpPort(c))
	require.NoError(t, err)
	_, err = h.Source(udpPort(c))
	require.Error(t, err)
	assert.Contains(t, err.Error(), fmt.Sprintf("port %d is already registered", udpPort(c)))
	st1, err := h.Close()
	require.NoError(t, err)
	st2, err := h.Close()
	require.NoError(t, err)
	assert.Equal(t, st1, st2, "Hub.Close is idempotent")
	_, err = src.Close()
	require.NoError(t, err, "a Source can be closed after its Hub")
	_, err = h.Source(9)
	require.Error(t, err, "no Source after Hub.Close")
}

func TestOpenHubBadInterface(t *testing.T) {
	t.Parallel()
	if err := LiveAvailable(); err != nil {
		t.Skip(err)
	}
	h, err := OpenHub("no-such-if0")
	require.Error(t, err)
	assert.Nil(t, h)
	assert.Contains(t, err.Error(), "no-such-if0")
}

// TestHubLeavesNoGoroutine: after Hub.Close the reader goroutine and the capture handle are gone. Not
// parallel: it counts the process's goroutines and file descriptors.
func TestHubLeavesNoGoroutine(t *testing.T) {
	if err := LiveAvailable(); err != nil {
		t.Skip(err)
	}
	kcpleak.LeaksNothing(t)
	h, err := OpenHub(LiveInterface)
	require.NoError(t, err)
	src, err := h.Source(9)
	require.NoError(t, err)
	_, err = src.Close()
	require.NoError(t, err)
	_, err = h.Close()
	require.NoError(t, err)
}
