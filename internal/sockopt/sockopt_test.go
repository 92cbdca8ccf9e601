package sockopt

import (
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bare is a net.PacketConn with none of the optional methods.
type bare struct{ net.PacketConn }

func TestForwards(t *testing.T) {
	t.Parallel()
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = udp.Close() })
	for _, tc := range []struct {
		name    string
		conn    net.PacketConn
		wantErr string // "" for every option set
	}{
		{"udp socket", udp, ""},
		{"no optional methods", bare{udp}, "sockopt.bare"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := NewForward(tc.conn, "wrapper")
			errs := []error{SetReadBuffer(tc.conn, 1<<16), SetWriteBuffer(tc.conn, 1<<16), SetDSCP(tc.conn, 46),
				f.SetReadBuffer(1 << 16), f.SetWriteBuffer(1 << 16), f.SetDSCP(46)}
			for i, err := range errs {
				if tc.wantErr == "" {
					assert.NoError(t, err)
					continue
				}
				assert.ErrorContains(t, err, tc.wantErr)
				if i >= 3 {
					assert.ErrorContains(t, err, "wrapper: ", "Forward names the wrapper")
				}
			}
			assert.Equal(t, tc.conn, f.Unwrap())
		})
	}
}
