//go:build !pcap

package capture

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLiveWithoutPcapTag(t *testing.T) {
	t.Parallel()
	err := LiveAvailable()
	require.ErrorIs(t, err, ErrNoPcapBuild)
	assert.Contains(t, err.Error(), "built without the 'pcap' build tag")
	assert.Contains(t, err.Error(), "install libpcap-dev and run `make capture` (or go build -tags pcap)")
	hub, err := OpenHub("lo")
	assert.Nil(t, hub)
	require.ErrorIs(t, err, ErrNoPcapBuild)
}
