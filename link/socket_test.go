package link

import (
	"errors"
	"fmt"
	"math"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"kcplab/internal/dir"
)

// Tests on real loopback sockets. Their time assertions are distributional (medians, quartiles,
// regression slopes) with tolerances for a loaded machine; the only strict timing assertion is that
// no datagram arrives before its planned delay, which Go timers guarantee.

// timing runs a timing measurement up to three times and fails only if every attempt misses: a
// busy machine can stall one attempt, a wrong link misses every time. Strict checks (nothing early,
// nothing lost) fail at once inside measure.
func timing(t *testing.T, measure func() (misses []string)) {
	t.Helper()
	const attempts = 3
	for try := 1; try <= attempts; try++ {
		misses := measure()
		if len(misses) == 0 {
			return
		}
		t.Logf("attempt %d of %d missed: %s", try, attempts, strings.Join(misses, "; "))
	}
	t.Errorf("the timing missed in all %d attempts", attempts)
}

// miss appends a formatted miss to ms when bad.
func miss(ms []string, bad bool, format string, args ...any) []string {
	if bad {
		return append(ms, fmt.Sprintf(format, args...))
	}
	return ms
}

// TestOwnLatency measures the link's own added latency with no impairment: the time from WriteTo
// to the datagram being readable on the receiving socket, through a raw socket and through a
// pass-through link, alternately, one datagram at a time (no queueing, no goroutine hop: the read is
// in the writing goroutine). It also measures how late the scheduler writes delayed datagrams.
func TestOwnLatency(t *testing.T) {
	a, b := loopbackPair(t)
	buf := make([]byte, 2048)
	p := payload(0, 100)
	oneWay := func(c net.PacketConn) time.Duration {
		start := time.Now()
		if _, err := c.WriteTo(p, b.LocalAddr()); err != nil {
			t.Fatal(err)
		}
		if _, _, err := b.ReadFrom(buf); err != nil {
			t.Fatal(err)
		}
		return time.Since(start)
	}
	timing(t, func() (ms []string) {
		l := newLink(t, "", 1)
		wrapped := l.Wrap(a, dir.C2S)
		const n = 2000
		var raw, viaLink []time.Duration
		for range n {
			raw = append(raw, oneWay(a))
			viaLink = append(viaLink, oneWay(wrapped))
		}
		rawMed, linkMed := quantile(raw, 0.5), quantile(viaLink, 0.5)
		t.Logf("no impairment, %d datagrams of 100 B, write to readable: raw socket median %v (p90 %v), through the link median %v (p90 %v): the link adds %v",
			n, rawMed, quantile(raw, 0.9), linkMed, quantile(viaLink, 0.9), linkMed-rawMed)
		if s := l.Stats(dir.C2S); s.Delivered != n || s.Delayed != 0 {
			t.Fatalf("stats %+v, want %d delivered, none delayed", s, n)
		}
		return miss(ms, linkMed-rawMed > 500*time.Microsecond,
			"the pass-through link adds %v to the median one-way latency, want well under 500µs", linkMed-rawMed)
	})
	timing(t, func() (ms []string) {
		l := newLink(t, "delay=1ms", 1)
		w := l.Wrap(a, dir.C2S)
		var late []time.Duration
		for range 300 {
			d := oneWay(w)
			if d < time.Millisecond {
				t.Fatalf("a datagram delayed 1ms arrived after %v", d)
			}
			late = append(late, d-time.Millisecond)
		}
		m := quantile(late, 0.5)
		t.Logf("delay=1ms, 300 datagrams: arrival after the planned delay: median %v, p90 %v, max %v (Stats.MeanLate %v)",
			m, quantile(late, 0.9), slices.Max(late), l.Stats(dir.C2S).MeanLate)
		return miss(ms, m > 4*time.Millisecond, "delayed datagrams arrive a median %v after their due time, want at most 4ms", m)
	})
}

// delays returns, per arrival, the time from its WriteTo (the record's Sent) to its arrival.
func delays(t *testing.T, l *Link, d dir.Dir, got []arrival) []time.Duration {
	t.Helper()
	recs := l.RecordsOf(d)
	out := make([]time.Duration, 0, len(got))
	for _, a := range got {
		if a.index >= uint64(len(recs)) {
			t.Fatalf("arrival of unknown datagram %d", a.index)
		}
		out = append(out, a.at.Sub(recs[a.index].Sent))
	}
	return out
}

// TestDelayOnSockets: the median one-way delay is within max(4 ms, 12.5%) of the configured delay,
// and no datagram arrives earlier than it.
func TestDelayOnSockets(t *testing.T) {
	t.Parallel()
	for _, delay := range []time.Duration{10 * time.Millisecond, 50 * time.Millisecond} {
		t.Run(delay.String(), func(t *testing.T) {
			t.Parallel()
			timing(t, func() (ms []string) {
				const n = 300
				l, got := sendThrough(t, "delay="+delay.String(), 1, n, 100, time.Millisecond)
				if len(got) < n*99/100 {
					t.Fatalf("%d of %d datagrams arrived", len(got), n)
				}
				ds := delays(t, l, dir.C2S, got)
				med, tol := quantile(ds, 0.5), max(4*time.Millisecond, delay/8)
				t.Logf("delay=%v: %d datagrams, one-way min %v, median %v, p90 %v, p99 %v, max %v", delay, len(ds),
					slices.Min(ds), med, quantile(ds, 0.9), quantile(ds, 0.99), slices.Max(ds))
				if slices.Min(ds) < delay {
					t.Fatalf("a datagram arrived %v after its WriteTo, before the delay %v", slices.Min(ds), delay)
				}
				return miss(ms, med < delay-tol || med > delay+tol, "median one-way delay %v, want %v ± %v", med, delay, tol)
			})
		})
	}
}

// inversions counts the arrivals of a datagram sent before one that arrived earlier.
func inversions(got []arrival) int {
	n := 0
	var maxIdx uint64
	for i, a := range got {
		if i > 0 && a.index < maxIdx {
			n++
		}
		maxIdx = max(maxIdx, a.index)
	}
	return n
}

// TestJitterOnSockets: delay 40 ms and jitter 20 ms (uniform in [20 ms, 60 ms]): nothing arrives
// before its planned delay, and the measured median and interquartile range are within 5 ms of the
// planned ones (whose distribution TestJitterSchedule checks against the uniform law); with
// reordering allowed datagrams overtake one another.
func TestJitterOnSockets(t *testing.T) {
	t.Parallel()
	timing(t, func() (ms []string) {
		const n = 400
		l, got := sendThrough(t, "delay=40ms,jitter=20ms,reorder=true", 7, n, 100, 500*time.Microsecond)
		if len(got) < n*99/100 {
			t.Fatalf("%d of %d datagrams arrived", len(got), n)
		}
		recs := l.RecordsOf(dir.C2S)
		ds := delays(t, l, dir.C2S, got)
		var planned []time.Duration
		for i, g := range got {
			p := recs[g.index].Copies[0].Delay
			if ds[i] < p {
				t.Fatalf("datagram %d arrived %v after its WriteTo, before its planned %v", g.index, ds[i], p)
			}
			planned = append(planned, p)
		}
		q1, med, q3 := quantile(ds, 0.25), quantile(ds, 0.5), quantile(ds, 0.75)
		p1, pmed, p3 := quantile(planned, 0.25), quantile(planned, 0.5), quantile(planned, 0.75)
		inv := inversions(got)
		t.Logf("delay=40ms,jitter=20ms,reorder=true: %d datagrams; measured min %v, q1 %v, median %v, q3 %v, max %v, IQR %v; planned q1 %v, median %v, q3 %v, IQR %v (uniform law: 30ms, 40ms, 50ms, IQR 20ms); %d arrived after a later-sent one",
			len(ds), slices.Min(ds), q1, med, q3, slices.Max(ds), q3-q1, p1, pmed, p3, p3-p1, inv)
		if inv < n/10 {
			t.Fatalf("only %d of %d datagrams overtaken with reorder=true", inv, n)
		}
		ms = miss(ms, (med-pmed).Abs() > 5*time.Millisecond, "median %v, planned %v", med, pmed)
		return miss(ms, ((q3-q1)-(p3-p1)).Abs() > 5*time.Millisecond, "interquartile range %v, planned %v", q3-q1, p3-p1)
	})
}

// TestOrderKept: with jitter and without reorder, datagrams (and duplicates) arrive in the order
// they were sent, and the Wire indexes follow that order.
func TestOrderKept(t *testing.T) {
	t.Parallel()
	const n = 500
	l, got := sendThrough(t, "delay=20ms,jitter=15ms,dup=10%", 3, n, 100, 200*time.Microsecond)
	s := l.Stats(dir.C2S)
	if len(got) != int(s.Delivered) {
		t.Fatalf("%d arrived, %d delivered by the link", len(got), s.Delivered)
	}
	for i := 1; i < len(got); i++ {
		if got[i].index < got[i-1].index {
			t.Fatalf("datagram %d arrived after %d without reorder", got[i-1].index, got[i].index)
		}
	}
	var wire []int64
	for _, rec := range l.RecordsOf(dir.C2S) {
		for _, c := range rec.Copies[:rec.Copied] {
			wire = append(wire, c.Wire)
		}
	}
	if !slices.IsSorted(wire) {
		t.Fatal("Wire indexes out of send order")
	}
	spread := quantile(delays(t, l, dir.C2S, got), 0.9) - quantile(delays(t, l, dir.C2S, got), 0.1)
	t.Logf("%d sent, %d duplicated, %d arrived, all in order; one-way delay p10-p90 spread %v", n, s.Duplicated, len(got), spread)
}

// TestRateOnSockets: the delivered throughput, the slope of a least-squares fit of arrival time
// against bytes sent, is within 5% of the configured rate; a short queue drops the tail.
func TestRateOnSockets(t *testing.T) {
	t.Parallel()
	t.Run("throughput", func(t *testing.T) {
		t.Parallel()
		timing(t, func() (ms []string) {
			const n, size = 800, 1000
			l, got := sendThrough(t, "rate=8mbit", 1, n, size, 0) // 1 MB/s
			if len(got) != n {
				t.Fatalf("%d of %d arrived (queue-full drops: %d)", len(got), n, l.Stats(dir.C2S).Dropped.QueueFull)
			}
			// Fit at = t0 + bytes/rate.
			var sx, sy, sxx, sxy float64
			for i, g := range got {
				x, y := float64(i*size), g.at.Sub(got[0].at).Seconds()
				sx, sy, sxx, sxy = sx+x, sy+y, sxx+x*x, sxy+x*y
			}
			k := float64(len(got))
			rate := (k*sxx - sx*sx) / (k*sxy - sx*sy)
			span := got[len(got)-1].at.Sub(got[0].at)
			t.Logf("rate=8mbit (1,000,000 B/s): %d × %d B arrived over %v; fitted rate %.0f B/s (%+.2f%%), end to end %.0f B/s",
				n, size, span, rate, 100*(rate/1e6-1), float64((n-1)*size)/span.Seconds())
			return miss(ms, math.Abs(rate/1e6-1) > 0.05, "delivered rate %.0f B/s, want 1,000,000 ± 5%%", rate)
		})
	})
	t.Run("tail drop", func(t *testing.T) {
		t.Parallel()
		a, b := loopbackPair(t)
		l := newLink(t, "rate=8mbit,queue=50pkt", 1)
		r := receive(b)
		const n = 200
		start := time.Now()
		sendPaced(t, l.Wrap(a, dir.C2S), b.LocalAddr(), n, 1000, 0)
		burst := time.Since(start)
		waitIdle(t, l, dir.C2S, 5*time.Second)
		s := l.Stats(dir.C2S)
		r.waitFor(int(s.Delivered), 2*time.Second)
		got := r.stop()
		t.Logf("%d sent in %v into a 50-datagram queue at 1 ms each: %d delivered, %d dropped queue-full", n, burst, s.Delivered, s.Dropped.QueueFull)
		if s.Delivered+s.Dropped.QueueFull != n || len(got) != int(s.Delivered) {
			t.Fatalf("stats %+v, %d arrived", s, len(got))
		}
		// At most 50 fit at once, plus one per millisecond the burst took.
		if maxIn := 50 + int(burst/time.Millisecond) + 1; int(s.Delivered) > maxIn || s.Delivered < 50 {
			t.Errorf("%d delivered, want between 50 and %d", s.Delivered, maxIn)
		}
		for _, rec := range l.RecordsOf(dir.C2S)[:50] {
			if rec.Fate != FateDelivered {
				t.Fatalf("datagram %d (in the first 50): %v", rec.Index, rec.Fate)
			}
		}
	})
}

// TestDuplicateOnSockets: every copy the link delivers arrives, and the duplicates are those recorded.
func TestDuplicateOnSockets(t *testing.T) {
	t.Parallel()
	const n = 300
	l, got := sendThrough(t, "dup=30%", 5, n, 64, 100*time.Microsecond)
	s := l.Stats(dir.C2S)
	perIndex := map[uint64]int{}
	for _, g := range got {
		perIndex[g.index]++
	}
	for _, rec := range l.RecordsOf(dir.C2S) {
		if want := 1 + btoi(rec.Duplicated()); perIndex[rec.Index] != want {
			t.Fatalf("datagram %d arrived %d times, want %d", rec.Index, perIndex[rec.Index], want)
		}
	}
	t.Logf("dup=30%%: %d sent, %d duplicated, %d arrived", n, s.Duplicated, len(got))
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestBlackholeOnSockets: exactly the datagrams sent inside the window are dropped, and every other
// one arrives.
func TestBlackholeOnSockets(t *testing.T) {
	t.Parallel()
	a, b := loopbackPair(t)
	l := newLink(t, "blackhole=50ms..150ms", 1)
	r := receive(b)
	w := l.Wrap(a, dir.C2S)
	i := uint64(0)
	for time.Since(l.Start()) < 250*time.Millisecond {
		if _, err := w.WriteTo(payload(i, 64), b.LocalAddr()); err != nil {
			t.Fatal(err)
		}
		i++
		time.Sleep(2 * time.Millisecond)
	}
	s := l.Stats(dir.C2S)
	r.waitFor(int(s.Delivered), 2*time.Second)
	got := r.stop()
	arrived := map[uint64]bool{}
	for _, g := range got {
		arrived[g.index] = true
	}
	for _, rec := range l.RecordsOf(dir.C2S) {
		inside := rec.At >= 50*time.Millisecond && rec.At < 150*time.Millisecond
		if inside != (rec.Fate == FateBlackhole) || inside == arrived[rec.Index] {
			t.Fatalf("datagram %d sent at %v: fate %v, arrived %v", rec.Index, rec.At, rec.Fate, arrived[rec.Index])
		}
	}
	t.Logf("%d sent over 250ms, %d dropped in the blackhole 50ms..150ms, %d arrived", s.Sent, s.Dropped.Blackhole, len(got))
}

// TestClose: Close returns promptly with datagrams still delayed, records them as closed, and later
// writes fail; copies whose socket closed before their due time are recorded as closed too.
func TestClose(t *testing.T) {
	t.Parallel()
	t.Run("link", func(t *testing.T) {
		t.Parallel()
		a, b := loopbackPair(t)
		l, err := New(MustParse("delay=10s"), 1, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		w := l.Wrap(a, dir.C2S)
		sendPaced(t, w, b.LocalAddr(), 20, 64, 0)
		start := time.Now()
		l.Close()
		if d := time.Since(start); d > time.Second {
			t.Errorf("Close took %v", d)
		}
		s := l.Stats(dir.C2S)
		if s.Closed != 20 || s.Pending != 0 || s.Delivered != 0 {
			t.Fatalf("stats after Close: %+v", s)
		}
		for _, rec := range l.RecordsOf(dir.C2S) {
			if rec.Fate != FateClosed {
				t.Fatalf("record %d: %v, want closed", rec.Index, rec.Fate)
			}
		}
		if _, err := w.WriteTo([]byte("x"), b.LocalAddr()); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("WriteTo after Close: %v, want net.ErrClosed", err)
		}
		l.Close() // idempotent
	})
	t.Run("socket", func(t *testing.T) {
		t.Parallel()
		a, b := loopbackPair(t)
		l := newLink(t, "delay=30ms", 1)
		w := l.Wrap(a, dir.C2S)
		sendPaced(t, w, b.LocalAddr(), 10, 64, 0)
		w.Close()
		waitIdle(t, l, dir.C2S, 5*time.Second)
		for _, rec := range l.RecordsOf(dir.C2S) {
			if rec.Fate != FateClosed || !errors.Is(rec.Copies[0].Err, net.ErrClosed) {
				t.Fatalf("record %d: %v (%v), want closed (net.ErrClosed)", rec.Index, rec.Fate, rec.Copies[0].Err)
			}
		}
		if _, err := w.WriteTo([]byte("x"), b.LocalAddr()); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("WriteTo after the Conn's Close: %v, want net.ErrClosed", err)
		}
		if n := l.Stats(dir.C2S).Sent; n != 10 {
			t.Fatalf("%d sent, want 10 (the write after Close is not counted)", n)
		}
	})
}
