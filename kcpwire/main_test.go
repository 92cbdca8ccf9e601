package kcpwire

import (
	"testing"

	"go.uber.org/goleak"
)

// testPort is the UDP port the gopacket tests register for KCP.
const testPort = 47123

func TestMain(m *testing.M) {
	RegisterPort(testPort) // before any test decodes: gopacket's port table is not concurrency-safe
	goleak.VerifyTestMain(m, goleak.IgnoreCurrent(),
		// kcp-go's process-wide goroutines (timer scheduler; v5.7's sender pool), started by the first session.
		goleak.IgnoreAnyFunction("github.com/xtaci/kcp-go/v5.(*TimedSched).sched"),
		goleak.IgnoreAnyFunction("github.com/xtaci/kcp-go/v5.(*TimedSched).prepend"),
		goleak.IgnoreAnyFunction("github.com/xtaci/kcp-go/v5.(*TimedSched).run"),
		goleak.IgnoreAnyFunction("github.com/xtaci/kcp-go/v5.postProcessWorker"))
}
