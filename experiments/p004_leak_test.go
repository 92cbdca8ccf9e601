package experiments

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"kcplab/harness"
	"kcplab/internal/kcpleak"
)

// TestHTTPLeaksNoGoroutine runs p004 and p004-keepalive and checks that net/http's goroutines (server
// connections, the Transport's read and write loops on a session left idle in its pool) end with the
// trial. Not parallel: goleak looks at every goroutine of the process.
func TestHTTPLeaksNoGoroutine(t *testing.T) {
	before := goleak.IgnoreCurrent()
	for _, id := range []string{"p004", "p004-keepalive"} {
		e, err := Lookup(id)
		require.NoError(t, err)
		res, err := harness.Run(context.Background(), e, harness.RunOptions{Trials: 8, Parallel: 8, KeepDir: t.TempDir()})
		require.NoError(t, err)
		for _, tr := range res.Failed() {
			t.Errorf("%s trial %d: %v", id, tr.Trial, tr.Err)
		}
	}
	goleak.VerifyNone(t, append(kcpleak.Options(), before)...)
}
