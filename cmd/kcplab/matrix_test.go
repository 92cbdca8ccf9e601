package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// Bad input to matrix and bisect exits with 2 and says what is wrong, before anything is built or run.
func TestMatrixBadInput(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"matrix", "-versions", "v5.4.22", "p003"}, "served under neither module path"},
		{[]string{"matrix", "-versions", "v5.6", "p003"}, "want vMAJOR.MINOR.PATCH"},
		{[]string{"matrix", "-versions", "v4.3.0", "p003"}, "v5 releases only"},
		{[]string{"matrix", "-versions", ",", "p003"}, "no version given"},
		{[]string{"matrix", "-versions", "v5.6.1", "nope"}, `unknown experiment "nope"`},
		{[]string{"matrix", "-trials", "-1"}, "-trials: want 0..100000"},
		{[]string{"matrix", "-bogus"}, "flag provided but not defined"},
		{[]string{"bisect", "p003"}, "want ID CLASS"},
		{[]string{"bisect", "p003", "delivered"}, "-from and -to are required"},
		{[]string{"bisect", "-from", "v5.6.1", "-to", "v5.6.24", "p003", "bogus"}, `p003 has no class "bogus"`},
		{[]string{"bisect", "p003", "delivered", "-from", "v5.6.24", "-to", "v5.6.1"}, "newer than"},
		{[]string{"bisect", "p003", "delivered", "-from", "v5.6.1", "-to", "v5.6.1"}, "the same version"},
		{[]string{"bisect", "p003", "delivered", "-from", "v5.6.1", "-to", "v5.6.24", "-runs", "0"}, "-runs: want 1..20"},
		{[]string{"bisect", "nope", "delivered", "-from", "v5.6.1", "-to", "v5.6.24"}, `unknown experiment "nope"`},
	} {
		code, _, errs := kcplab(t, tc.args...)
		assert.Equal(t, 2, code, "%v: %s", tc.args, errs)
		assert.Contains(t, errs, tc.want, "%v", tc.args)
	}
}
