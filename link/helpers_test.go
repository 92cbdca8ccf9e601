package link

import (
	"encoding/binary"
	"errors"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"kcplab/internal/dir"
	"kcplab/internal/traffictest"
)

// loopbackPair opens two UDP sockets on 127.0.0.1, closed at the end of the test.
func loopbackPair(t testing.TB) (a, b *net.UDPConn) {
	t.Helper()
	open := func() *net.UDPConn {
		c := traffictest.Loopback(t)
		_ = c.SetReadBuffer(4 << 20) // capped by rmem_max; enough for the tests' bursts
		return c
	}
	return open(), open()
}

// arrival is a datagram read by a receiver.
type arrival struct {
	index uint64 // from the first 8 bytes of the payload
	at    time.Time
	size  int
}

// receiver reads datagrams from a socket in its own goroutine until stopped.
type receiver struct {
	conn *net.UDPConn
	mu   sync.Mutex
	got  []arrival
	done chan struct{}
}

func receive(conn *net.UDPConn) *receiver {
	r := &receiver{conn: conn, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		buf := make([]byte, 65536)
		for {
			n, _, err := conn.ReadFrom(buf)
			at := time.Now()
			if err != nil {
				return
			}
			r.mu.Lock()
			r.got = append(r.got, arrival{binary.BigEndian.Uint64(buf[:8]), at, n})
			r.mu.Unlock()
		}
	}()
	return r
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

// waitFor waits until the receiver has n datagrams, or until the deadline passes.
func (r *receiver) waitFor(n int, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for r.count() < n && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
}

// stop ends the receiver (by closing its socket) and returns what it read.
func (r *receiver) stop() []arrival {
	r.conn.Close()
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// payload returns a datagram of size bytes carrying index i.
func payload(i uint64, size int) []byte {
	p := make([]byte, max(size, 8))
	binary.BigEndian.PutUint64(p, i)
	return p
}

// sendPaced writes n datagrams of size bytes through c to dst, sleeping gap between them (0: none).
func sendPaced(t testing.TB, c net.PacketConn, dst net.Addr, n, size int, gap time.Duration) {
	t.Helper()
	for i := range n {
		if _, err := c.WriteTo(payload(uint64(i), size), dst); err != nil {
			t.Fatalf("WriteTo %d: %v", i, err)
		}
		if gap > 0 {
			time.Sleep(gap)
		}
	}
}

// waitIdle waits until direction d of l holds no pending copy.
func waitIdle(t testing.TB, l *Link, d dir.Dir, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for l.Stats(d).Pending > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%s still has %d pending copies after %v", d, l.Stats(d).Pending, timeout)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// sendThrough sends n datagrams of size bytes, gap apart, from one loopback socket to another through
// a link of spec and seed, waits until the link holds nothing and what it delivered has arrived, and
// returns the link and the arrivals.
func sendThrough(t testing.TB, spec string, seed uint64, n, size int, gap time.Duration) (*Link, []arrival) {
	t.Helper()
	a, b := loopbackPair(t)
	l := newLink(t, spec, seed)
	r := receive(b)
	sendPaced(t, l.Wrap(a, dir.C2S), b.LocalAddr(), n, size, gap)
	waitIdle(t, l, dir.C2S, 5*time.Second)
	r.waitFor(int(l.Stats(dir.C2S).Delivered), 2*time.Second)
	return l, r.stop()
}

// newLink is New for a SPEC, closed at the end of the test.
func newLink(t testing.TB, spec string, seed uint64, opts ...Option) *Link {
	t.Helper()
	l, err := New(MustParse(spec), seed, time.Time{}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// quantile returns the q-quantile of xs (nearest rank).
func quantile(xs []time.Duration, q float64) time.Duration {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

// fakeConn is a net.PacketConn that keeps (a copy of) what is written to it, for the tests that
// need no socket.
type fakeConn struct {
	mu     sync.Mutex
	keep   bool
	writes [][]byte
	n      int
	closed bool
}

var errFakeRead = errors.New("fakeConn: no reads")

func (f *fakeConn) WriteTo(p []byte, _ net.Addr) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return 0, net.ErrClosed
	}
	f.n++
	if f.keep {
		f.writes = append(f.writes, slices.Clone(p))
	}
	return len(p), nil
}
func (f *fakeConn) ReadFrom([]byte) (int, net.Addr, error) { return 0, nil, errFakeRead }
func (f *fakeConn) Close() error {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	return nil
}
func (f *fakeConn) LocalAddr() net.Addr              { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }
func (f *fakeConn) SetDeadline(time.Time) error      { return nil }
func (f *fakeConn) SetReadDeadline(time.Time) error  { return nil }
func (f *fakeConn) SetWriteDeadline(time.Time) error { return nil }
func (f *fakeConn) count() int                       { f.mu.Lock(); defer f.mu.Unlock(); return f.n }
func (f *fakeConn) copies() [][]byte                 { f.mu.Lock(); defer f.mu.Unlock(); return slices.Clone(f.writes) }

var fakeDst = &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2}
