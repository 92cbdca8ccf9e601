package experiments

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"kcplab/harness"
	"kcplab/internal/kcpleak"
)

// TestRunLeaksNothing runs experiments whose roles leave the most behind them and checks that every
// goroutine and socket of their trials ends with the trial: p003, whose delivered trials make the
// listener create a phantom session after the server's Close; p004 and p004-keepalive, with net/http's
// goroutines (server connections, the Transport's read and write loops on a session left idle in its
// pool). Not parallel: it counts the process's goroutines and file descriptors.
func TestRunLeaksNothing(t *testing.T) {
	for _, id := range []string{"p003", "p004", "p004-keepalive"} {
		t.Run(id, func(t *testing.T) {
			kcpleak.LeaksNothing(t)
			e, err := Lookup(id)
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
		})
	}
}
