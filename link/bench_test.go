package link

import (
	"net"
	"testing"
	"time"

	"kcplab/internal/dir"
)

// Benchmarks of the link's cost per datagram. "fake" writes to a conn that discards (the link's
// own cost: decision, bookkeeping, and for delays the copy, the heap and the scheduler's write);
// "loopback" writes to a real UDP socket drained by a reader.

var benchSpecs = []struct{ name, spec string }{
	{"none", ""},
	{"loss=10%", "loss=10%"},
	{"delay=1ms", "delay=1ms"},
	{"delay=1ms,jitter=500us", "delay=1ms,jitter=500us"},
}

func BenchmarkFake(b *testing.B) {
	b.Run("raw", func(b *testing.B) {
		c := &fakeConn{}
		p := make([]byte, 100)
		b.ReportAllocs()
		for b.Loop() {
			c.WriteTo(p, fakeDst)
		}
	})
	for _, bs := range benchSpecs {
		for _, rec := range []bool{false, true} {
			name := bs.name
			opts := []Option{WithoutRecords()}
			if rec {
				name += "/records"
				opts = nil
			}
			b.Run(name, func(b *testing.B) {
				benchLink(b, bs.spec, func() net.PacketConn { return &fakeConn{} }, fakeDst, opts...)
			})
		}
	}
}

// benchLink writes b.N datagrams of 100 B through a link. The time includes the scheduler's
// writes: every 50,000 datagrams, and at the end, it waits for the link to have written every
// delayed copy (so ns/op is the link's throughput cost, not only the enqueue, and no copy is
// dropped for overflow). With records, a fresh link every 100,000 datagrams bounds the memory.
func benchLink(b *testing.B, spec string, conn func() net.PacketConn, dst net.Addr, opts ...Option) {
	p := make([]byte, 100)
	inner := conn()
	var l *Link
	var w *Conn
	var overflow uint64
	fresh := func() {
		if l != nil {
			overflow += l.Stats(dir.C2S).Dropped.Overflow
			l.Close()
		}
		var err error
		if l, err = New(MustParse(spec), 1, time.Time{}, opts...); err != nil {
			b.Fatal(err)
		}
		w = l.Wrap(inner, dir.C2S)
	}
	drain := func() {
		for l.Pending() > 0 {
			time.Sleep(50 * time.Microsecond)
		}
	}
	fresh()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if i%50_000 == 0 {
			drain()
		}
		if i%100_000 == 0 {
			b.StopTimer()
			fresh()
			b.StartTimer()
		}
		if _, err := w.WriteTo(p, dst); err != nil {
			b.Fatal(err)
		}
	}
	drain()
	b.StopTimer()
	fresh()
	l.Close()
	if overflow > 0 {
		b.Fatalf("%d copies dropped for overflow", overflow)
	}
}

func BenchmarkLoopback(b *testing.B) {
	a, r := loopbackPair(b)
	rc := receive(r)
	defer rc.stop()
	b.Run("raw", func(b *testing.B) {
		p := make([]byte, 100)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := a.WriteTo(p, r.LocalAddr()); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, bs := range benchSpecs {
		b.Run(bs.name, func(b *testing.B) {
			benchLink(b, bs.spec, func() net.PacketConn { return a }, r.LocalAddr(), WithoutRecords())
		})
	}
}
