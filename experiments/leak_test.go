package experiments

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"kcplab/harness"
	"kcplab/internal/kcpleak"
)

// TestRunLeaksNoGoroutine runs p003, whose delivered trials make the listener create a phantom
// session after the server's Close, and checks that every session's goroutines end with the trial.
// kcp-go's global timer scheduler lives as long as the process and is ignored. Not parallel: goleak
// looks at every goroutine of the process.
func TestRunLeaksNoGoroutine(t *testing.T) {
	before := goleak.IgnoreCurrent()
	e, err := Lookup("p003")
	require.NoError(t, err)
	res, err := harness.Run(context.Background(), e, harness.RunOptions{Trials: 8, Parallel: 8, KeepDir: t.TempDir()})
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
	goleak.VerifyNone(t, append(kcpleak.Options(), before)...)
}
