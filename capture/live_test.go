package capture

import (
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPortSides(t *testing.T) {
	t.Parallel()
	a, b := listenLoopback(t), listenLoopback(t)
	defer a.Close()
	defer b.Close()
	var ps portSides
	ps.set(a, SideClient)
	ps.set(b, SideServer)
	ps.set(nil, SideServer)
	tests := []struct {
		name string
		port uint16
		want Side
	}{
		{"client", uint16(a.LocalAddr().(*net.UDPAddr).Port), SideClient},
		{"server", uint16(b.LocalAddr().(*net.UDPAddr).Port), SideServer},
		{"unknown", 9, SideUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, ps.side(tt.port))
		})
	}
}

func TestSideString(t *testing.T) {
	t.Parallel()
	for side, want := range map[Side]string{SideUnknown: "?", SideClient: "client", SideServer: "server", Side(9): "?"} {
		require.Equal(t, want, side.String())
	}
}

func TestCheckInterface(t *testing.T) {
	t.Parallel()
	require.NoError(t, checkInterface("lo"))
	err := checkInterface("no-such-if0")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"no-such-if0"`)
}
