// Package kcpleak names the goroutines kcp-go keeps for the whole process, for goleak checks in tests.
package kcpleak

import "go.uber.org/goleak"

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
