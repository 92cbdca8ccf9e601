//go:build !kcpgo_plaintimeout

package kcpgo

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestIsTimeoutPlainText: releases with timeoutError report deadlines as net.Error only, so an error
// that merely reads "timeout" is not one.
func TestIsTimeoutPlainText(t *testing.T) {
	t.Parallel()
	assert.False(t, IsTimeout(fmt.Errorf("read: %w", errors.New("timeout"))))
}
