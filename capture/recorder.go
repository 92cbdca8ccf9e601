package capture

import (
	"slices"
	"sync"
)

// recorder is the datagram store shared by the tap and live capture: one
// mutex-guarded append per datagram and a capacity-1 notification channel.
type recorder struct {
	mu     sync.Mutex
	dgs    []Datagram
	slab   []byte // the current slab payload copies are carved from
	closed bool
	notify chan struct{}
}

// Payload copies are carved from slabs that start at minSlab bytes and double
// up to maxSlab: a 4-datagram trial keeps a few KiB, a bulk transfer makes one
// allocation per ~700 kcp-go datagrams instead of one each.
const (
	minSlab = 4 << 10
	maxSlab = 1 << 20
)

func newRecorder() *recorder {
	return &recorder{notify: make(chan struct{}, 1)}
}

// add appends d unless the recorder is closed, and signals Notify without
// blocking. If copyPayload is set, d.Payload is the caller's buffer and is
// copied; otherwise the caller hands its ownership over. It reports whether d
// was kept.
func (r *recorder) add(d Datagram, copyPayload bool) bool {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return false
	}
	if copyPayload {
		d.Payload = r.copyLocked(d.Payload)
	}
	r.dgs = append(r.dgs, d)
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
	return true
}

// copyLocked returns a copy of p carved from the slab (capacity clipped, so
// appending to it cannot touch its neighbours).
func (r *recorder) copyLocked(p []byte) []byte {
	if len(p) > maxSlab/4 {
		c := make([]byte, len(p))
		copy(c, p)
		return c
	}
	if cap(r.slab)-len(r.slab) < len(p) {
		size := min(max(2*cap(r.slab), minSlab), maxSlab)
		for size < len(p) {
			size *= 2
		}
		r.slab = make([]byte, 0, size)
	}
	start := len(r.slab)
	r.slab = append(r.slab, p...)
	return r.slab[start:len(r.slab):len(r.slab)]
}

// snapshot returns a copy of the records sorted by Time (stable, so records
// with equal times keep their recording order). Payloads are shared and must
// not be modified.
func (r *recorder) snapshot() []Datagram {
	r.mu.Lock()
	out := slices.Clone(r.dgs)
	r.mu.Unlock()
	if !slices.IsSortedFunc(out, cmpTime) {
		slices.SortStableFunc(out, cmpTime)
	}
	return out
}

// len returns how many datagrams were recorded.
func (r *recorder) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.dgs)
}

// close stops recording; it reports whether this call was the first.
func (r *recorder) close() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	first := !r.closed
	r.closed = true
	return first
}

func cmpTime(a, b Datagram) int {
	return a.Time.Compare(b.Time)
}
