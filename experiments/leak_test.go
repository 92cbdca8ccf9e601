package experiments

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"kcplab/harness"
)

// TestRunLeaksNoGoroutine runs p003, whose delivered trials make the listener create a phantom
// session after the server's Close, and checks that every session's goroutines end with the trial.
// kcp-go's global timer scheduler lives as long as the process and is ignored. Not parallel: goleak
// looks at every goroutine of the process.
func TestRunLeaksNoGoroutine(t *testing.T) {
	before := goleak.IgnoreCurrent()
	e, err := Lookup("p003")
	require.NoError(t, err)
	res, err := harness.Run(context.Background(), e, harness.RunOptions{Trials: 8, Parallel: 4, KeepDir: t.TempDir()})
	require.NoError(t, err)
	phantoms := 0
	for _, tr := range res.Trials {
		if tr.Err != nil {
			t.Errorf("trial %d: %v", tr.Trial, tr.Err)
		} else {
			phantoms += tr.Trace.Accepts - 1
		}
	}
	t.Logf("%d phantom session(s) in %d trials", phantoms, len(res.Trials))
	goleak.VerifyNone(t,
		goleak.IgnoreTopFunction("github.com/xtaci/kcp-go/v5.(*TimedSched).sched"),
		goleak.IgnoreTopFunction("github.com/xtaci/kcp-go/v5.(*TimedSched).prepend"),
		goleak.IgnoreAnyFunction("github.com/xtaci/kcp-go/v5.postProcessWorker"), // v5.7: a shared pool of sender goroutines
		goleak.IgnoreAnyFunction("github.com/xtaci/kcp-go/v5.(*TimedSched).run"), // v5.7: the timer scheduler
		before)
}
