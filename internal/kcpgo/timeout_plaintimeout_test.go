//go:build kcpgo_plaintimeout

package kcpgo

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestIsTimeoutPlainText: releases without timeoutError return errors.New("timeout") wrapped, which
// IsTimeout recognises by its innermost text, and only that text.
func TestIsTimeoutPlainText(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"bare", errors.New("timeout"), true},
		{"wrapped", fmt.Errorf("read: %w", errors.New("timeout")), true},
		{"other text", fmt.Errorf("read: %w", errors.New("timeouts")), false},
		{"outer text only", fmt.Errorf("timeout: %w", errors.New("refused")), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, IsTimeout(tc.err))
		})
	}
}
