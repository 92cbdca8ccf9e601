package kcpleak

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recorder is the t a LeaksNothing check is given: it keeps the cleanups and the errors.
type recorder struct {
	testing.TB
	cleanups []func()
	errs     []string
}

func (r *recorder) Cleanup(f func())  { r.cleanups = append(r.cleanups, f) }
func (r *recorder) Error(args ...any) { r.errs = append(r.errs, fmt.Sprint(args...)) }
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// TestLeaksNothing: a goroutine or a file left open at the end is reported; nothing left, nothing is.
// Not parallel: it counts the process's goroutines and file descriptors.
func TestLeaksNothing(t *testing.T) {
	for _, tc := range []struct {
		name string
		leak func(t *testing.T) (undo func())
		want []string
	}{
		{"nothing left", func(*testing.T) func() { return func() {} }, nil},
		{"a goroutine left", func(*testing.T) func() {
			stop := make(chan struct{})
			go func() { <-stop }()
			return func() { close(stop) }
		}, []string{"found unexpected goroutines"}},
		{"a file left open", func(t *testing.T) func() {
			f, err := os.Open(os.Args[0])
			require.NoError(t, err)
			return func() { _ = f.Close() }
		}, []string{"open file descriptors before and after"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{TB: t}
			LeaksNothing(r)
			undo := tc.leak(t)
			for _, f := range r.cleanups {
				f()
			}
			undo()
			require.Len(t, r.errs, len(tc.want), "errors: %q", r.errs)
			for i, w := range tc.want {
				assert.True(t, strings.Contains(r.errs[i], w), "error %q, want it to say %q", r.errs[i], w)
			}
		})
	}
}
