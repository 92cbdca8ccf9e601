package link

import (
	"net"
	"testing"
	"time"
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

// benchLink writes b.N datagrams of 100 B through a link; with records, a fresh link every 100,000
// datagrams keeps the memory bounded.
func benchLink(b *testing.B, spec string, conn func() net.PacketConn, dst net.Addr, opts ...Option) {
	p := make([]byte, 100)
	inner := conn()
	var l *Link
	var w *Conn
	fresh := func() {
		if l != nil {
			l.Close()
		}
		var err error
		if l, err = New(MustParse(spec), 1, time.Time{}, opts...); err != nil {
			b.Fatal(err)
		}
		w = l.Wrap(inner, C2S)
	}
	fresh()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i++; i%100_000 == 0 {
			b.StopTimer()
			fresh()
			b.StartTimer()
		}
		if _, err := w.WriteTo(p, dst); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	l.Close()
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
