package harnesstest

import (
	"testing"

	"kcplab/harness"
)

// NoFailures reports each failed trial of res as an error of t.
func NoFailures(t testing.TB, res *harness.Result) {
	t.Helper()
	for _, f := range res.Failed() {
		t.Errorf("trial %d: %v", f.Trial, f.Err)
	}
}
