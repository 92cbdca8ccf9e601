//go:build pcap

package experiments

import (
	"bytes"
	"context"
	"net"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	kcp "github.com/xtaci/kcp-go/v5"

	"kcplab/capture"
	"kcplab/harness"
	"kcplab/internal/kcpgo"
)

// bothSource captures one trial with the tap and with libpcap at once: kcp-go gets the tapped
// sockets, libpcap watches the same ports on lo.
type bothSource struct {
	tap  *capture.TapSource
	live capture.Source

	mu       sync.Mutex
	liveDgs  []capture.Datagram
	liveStat capture.Stats
}

func (b *bothSource) Wrap(c net.PacketConn, side harness.Side) net.PacketConn {
	b.live.Wrap(c, side)
	return b.tap.Wrap(c, side)
}
func (b *bothSource) Datagrams() []capture.Datagram { return b.tap.Datagrams() }
func (b *bothSource) Notify() <-chan struct{}       { return b.tap.Notify() }
func (b *bothSource) Close() (capture.Stats, error) {
	st, err := b.tap.Close()
	lst, lerr := b.live.Close()
	b.mu.Lock()
	b.liveDgs, b.liveStat = b.live.Datagrams(), lst
	b.mu.Unlock()
	if err == nil {
		err = lerr
	}
	return st, err
}

// sameDatagrams checks two captures of one trial: same count, and per direction the same datagrams
// (addresses and bytes) in the same order.
func sameDatagrams(t *testing.T, tap, live []capture.Datagram) {
	t.Helper()
	require.Equal(t, len(tap), len(live), "datagram count: tap vs live")
	type flow struct{ src, dst string }
	perFlow := func(dgs []capture.Datagram) map[flow][][]byte {
		m := map[flow][][]byte{}
		for _, d := range dgs {
			f := flow{d.Src.String(), d.Dst.String()}
			m[f] = append(m[f], d.Payload)
		}
		return m
	}
	pt, pl := perFlow(tap), perFlow(live)
	require.Equal(t, len(pt), len(pl), "flows")
	for f, want := range pt {
		got := pl[f]
		require.Equal(t, len(want), len(got), "flow %v", f)
		for i := range want {
			assert.True(t, bytes.Equal(want[i], got[i]), "flow %v datagram %d differs", f, i)
		}
	}
}

// TestLiveMatchesTapOnP003 runs p003 trials captured by the tap and by libpcap at the same time and
// checks that both record the same datagrams, and that those are all kcp-go sent and received (SNMP).
// Trials run one at a time: kcp-go's SNMP counters are global to the process. The captures are
// compared on every attempt; an attempt that fits no class while the process was frozen is run again,
// as harness.Run does (freeze.go), and the last must fit one.
func TestLiveMatchesTapOnP003(t *testing.T) {
	if err := capture.LiveAvailable(); err != nil {
		t.Skipf("live capture unavailable: %v", err)
	}
	e, err := Lookup("p003")
	require.NoError(t, err)
	hub, err := capture.OpenHub(capture.LiveInterface)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = hub.Close() })
	// The first trial of a process warms kcp-go's workers with datagrams of its own (kcpgo.WarmWorkers),
	// which the SNMP counters would count as the trial's: warm them before counting.
	kcpgo.WarmWorkers()
	classes := map[string]int{}
	const trials = 5   // one at a time (the SNMP counters), about 1.3 s each
	const attempts = 3 // of a trial the process froze in, as harness.Run runs again (freeze.go)
	for n := 1; n <= trials; n++ {
		for attempt := 1; ; attempt++ {
			var both *bothSource
			open := func(ports ...uint16) (capture.Source, error) {
				live, err := hub.Source(ports...)
				if err != nil {
					return nil, err
				}
				both = &bothSource{tap: capture.NewTap(), live: live}
				return both, nil
			}
			before := kcp.DefaultSnmp.Copy()
			tr, err := harness.RunTrial(context.Background(), e, n, open, uint64(n))
			require.NoError(t, err)
			after := kcp.DefaultSnmp.Copy()

			sameDatagrams(t, tr.Datagrams, both.liveDgs)
			assert.Zero(t, both.liveStat.Dropped+both.liveStat.IfDropped, "libpcap drops")
			assert.EqualValues(t, after.OutPkts-before.OutPkts, len(tr.Datagrams), "kcp-go OutPkts vs datagrams on the wire")
			assert.EqualValues(t, after.InPkts-before.InPkts, len(tr.Datagrams), "kcp-go InPkts vs datagrams on the wire")

			class, err := harness.Classify(e, tr)
			if f, ok := harness.Frozen(e, tr, err); ok && attempt < attempts {
				t.Logf("trial %d, attempt %d: %v; running it again", n, attempt, f)
				continue
			}
			require.NoError(t, err)
			classes[class.Name]++
			break
		}
	}
	t.Logf("%d p003 trials, tap and libpcap identical; classes %v", trials, classes)
}
