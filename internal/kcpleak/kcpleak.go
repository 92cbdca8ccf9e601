// Package kcpleak is the leak check of kcplab's tests: the goroutines kcp-go keeps for the whole
// process, which every goleak check ignores, and a check that a test leaves no goroutine and no file
// descriptor behind.
package kcpleak

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"
)

// Options ignores kcp-go's process-wide goroutines, started by its first session and never stopped:
// the timer scheduler (TimedSched: sched and prepend up to v5.6, run from v5.7) and, from v5.7, the
// shared pool of sender goroutines (postProcessWorker). A session's own goroutines are not ignored.
func Options() []goleak.Option {
	return []goleak.Option{
		goleak.IgnoreAnyFunction("github.com/xtaci/kcp-go/v5.(*TimedSched).sched"),
		goleak.IgnoreAnyFunction("github.com/xtaci/kcp-go/v5.(*TimedSched).prepend"),
		goleak.IgnoreAnyFunction("github.com/xtaci/kcp-go/v5.(*TimedSched).run"),
		goleak.IgnoreAnyFunction("github.com/xtaci/kcp-go/v5.postProcessWorker"),
	}
}

// LeaksNothing checks, when t has ended and the cleanups it registers later have run, that every
// goroutine started since the call has ended (kcp-go's process-wide ones aside) and that as many file
// descriptors are open as at the call. It skips t where it cannot count them (no /proc/self/fd). t
// must not be parallel: both counts are the whole process's.
func LeaksNothing(t testing.TB) {
	t.Helper()
	fds := func() int {
		entries, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skipf("cannot count open files here: %v", err)
		}
		return len(entries)
	}
	before, running := fds(), goleak.IgnoreCurrent()
	t.Cleanup(func() {
		goleak.VerifyNone(t, append(Options(), running)...)
		assert.Equal(t, before, fds(), "open file descriptors before and after")
	})
}
