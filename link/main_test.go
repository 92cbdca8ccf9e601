package link

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// kcp-go starts its global timer scheduler at package init; it lives for the process.
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/xtaci/kcp-go/v5.(*TimedSched).sched"),
		goleak.IgnoreTopFunction("github.com/xtaci/kcp-go/v5.(*TimedSched).prepend"),
	)
}
