package capture

import (
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"kcplab/internal/dir"
	"kcplab/internal/traffictest"
)

func TestPortSides(t *testing.T) {
	t.Parallel()
	a, b := traffictest.Loopback(t), traffictest.Loopback(t)
	var ps portSides
	ps.set(a, dir.C2S)
	ps.set(b, dir.S2C)
	ps.set(nil, dir.S2C)
	tests := []struct {
		name string
		port uint16
		want dir.Dir
	}{
		{"client", uint16(a.LocalAddr().(*net.UDPAddr).Port), dir.C2S},
		{"server", uint16(b.LocalAddr().(*net.UDPAddr).Port), dir.S2C},
		{"unknown", 9, dir.Unknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, ps.side(tt.port))
		})
	}
}

func TestCheckInterface(t *testing.T) {
	t.Parallel()
	require.NoError(t, checkInterface("lo"))
	err := checkInterface("no-such-if0")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"no-such-if0"`)
}
