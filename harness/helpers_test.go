package harness

import "testing"

// noFailedTrials fails the test with each trial of res that failed, its number and its error.
func noFailedTrials(t *testing.T, res *Result) {
	t.Helper()
	for _, f := range res.Failed() {
		t.Errorf("trial %d: %v", f.Trial, f.Err)
	}
}
