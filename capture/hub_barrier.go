package capture

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// barrier lets a closing Source wait until the Hub's reader has caught up
// with a moment m, that is until the reader has either
//   - handled a frame whose capture timestamp is at or after m: the kernel
//     fills libpcap's ring in capture order, so every frame captured before m
//     sat earlier in the ring and was handled first; or
//   - finished a read that started at or after m and found the ring empty for
//     a whole read timeout: every frame captured before m was already handled.
//
// Both clocks are CLOCK_REALTIME (time.Now and the kernel's capture stamp).
type barrier struct {
	pending atomic.Int32 // len(waiters); the reader checks it on every read without locking
	mu      sync.Mutex
	waiters []waiter
}

// waiter is one moment a closer waits for; ch closes when the reader reaches it.
type waiter struct {
	at time.Time
	ch chan struct{}
}

// add registers a wait for moment at; the returned channel is closed once the
// reader has caught up with it (or release is called).
func (b *barrier) add(at time.Time) <-chan struct{} {
	ch := make(chan struct{})
	b.mu.Lock()
	defer b.mu.Unlock()
	b.waiters = append(b.waiters, waiter{at: at, ch: ch})
	b.pending.Store(int32(len(b.waiters)))
	return ch
}

// remove forgets the wait whose channel is ch (a closer that gave up).
func (b *barrier) remove(ch <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.waiters = slices.DeleteFunc(b.waiters, func(w waiter) bool { return w.ch == ch })
	b.pending.Store(int32(len(b.waiters)))
}

// active reports whether anyone waits; cheap enough for every read.
func (b *barrier) active() bool { return b.pending.Load() > 0 }

// reach releases every wait whose moment is at or before t: the reader has
// handled everything captured before t.
func (b *barrier) reach(t time.Time) {
	if !b.active() {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	kept := b.waiters[:0]
	var released []chan struct{}
	for _, w := range b.waiters {
		if w.at.After(t) {
			kept = append(kept, w)
		} else {
			released = append(released, w.ch)
		}
	}
	clear(b.waiters[len(kept):])
	b.waiters = kept
	b.pending.Store(int32(len(kept)))
	for _, ch := range released {
		close(ch)
	}
}
