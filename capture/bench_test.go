package capture

import (
	"net"
	"syscall"
	"testing"
	"time"

	kcp "github.com/xtaci/kcp-go/v5"

	"kcplab/internal/dir"
	"kcplab/internal/traffictest"
)

// BenchmarkTransfer runs the same bulk transfer over one kcp-go session pair
// per iteration and reports, per datagram sent (kcp.DefaultSnmp.OutPkts, so
// benchmarks must not run alongside other kcp-go code), the wall time
// (ns/datagram, mostly kcp-go's pacing) and the process CPU time
// (cpu-ns/datagram, user+system from getrusage: the cost the tap adds):
//   - untapped: real *net.UDPConn, kcp-go batches with sendmmsg/recvmmsg;
//   - unbatched: a plain wrapper that hides the batch interfaces, so one
//     datagram per syscall like under a Tap, but nothing recorded;
//   - tapped: a TapSource recording every datagram.
//
// tapped minus unbatched is the cost of recording; unbatched minus untapped is
// the cost of giving up kcp-go's batch syscalls.
func BenchmarkTransfer(b *testing.B) {
	const size = 8 << 20
	modes := []struct {
		name string
		wrap func() wrapFunc
	}{
		{"untapped", func() wrapFunc { return noWrap }},
		{"unbatched", func() wrapFunc { return unbatched }},
		{"tapped", func() wrapFunc {
			src := NewTap()
			return func(c net.PacketConn, side dir.Dir) net.PacketConn { return src.Wrap(c, side) }
		}},
	}
	for _, m := range modes {
		b.Run(m.name, func(b *testing.B) {
			b.SetBytes(size)
			var datagrams uint64
			var elapsed, cpu time.Duration
			for b.Loop() {
				b.StopTimer()
				p := newKCPPair(b, m.wrap())
				before := kcp.DefaultSnmp.Copy()
				b.StartTimer()
				start, cpuStart := time.Now(), cpuTime(b)
				bulkTransfer(b, p, size, time.Minute)
				elapsed += time.Since(start)
				cpu += cpuTime(b) - cpuStart
				datagrams += kcp.DefaultSnmp.Copy().OutPkts - before.OutPkts
				b.StopTimer()
				p.close()
				b.StartTimer()
			}
			if datagrams > 0 {
				b.ReportMetric(float64(elapsed.Nanoseconds())/float64(datagrams), "ns/datagram")
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(datagrams), "cpu-ns/datagram")
				b.ReportMetric(float64(datagrams)/float64(b.N), "datagrams/op")
			}
		})
	}
}

// cpuTime returns the process's user+system CPU time.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkTapWriteTo isolates the tap's cost on the send path: 1400-byte
// datagrams written to a loopback socket, plain or through a Tap (recording
// into a TapSource that is reset every 50,000 datagrams to bound memory).
func BenchmarkTapWriteTo(b *testing.B) {
	payload := make([]byte, 1400)
	for _, tapped := range []bool{false, true} {
		name := "plain"
		if tapped {
			name = "tapped"
		}
		b.Run(name, func(b *testing.B) {
			sink, c := traffictest.Loopback(b), traffictest.Loopback(b)
			defer sink.Close()
			defer c.Close()
			var pc net.PacketConn = c
			n := 0
			for b.Loop() {
				if tapped && n%50000 == 0 {
					pc = NewTap().Wrap(c, dir.C2S)
				}
				n++
				if _, err := pc.WriteTo(payload, sink.LocalAddr()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/datagram")
		})
	}
}
