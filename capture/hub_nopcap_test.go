//go:build !pcap

package capture

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOpenHubWithoutPcapTag(t *testing.T) {
	t.Parallel()
	h, err := OpenHub("lo")
	require.ErrorIs(t, err, ErrNoPcapBuild)
	assert.Nil(t, h)
}
