package kcpgo

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPinnedMatchesGoMod: Pinned is the version go.mod requires, and the one this test binary links.
func TestPinnedMatchesGoMod(t *testing.T) {
	t.Parallel()
	mod, err := os.ReadFile("../../go.mod")
	require.NoError(t, err)
	assert.Contains(t, string(mod), "\n\t"+ModulePath+" "+Pinned+"\n")
	assert.Equal(t, Pinned, Version())
}
