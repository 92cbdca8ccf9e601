package decode

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAppendSeconds compares appendSeconds with strconv.AppendFloat.
func TestAppendSeconds(t *testing.T) {
	t.Parallel()
	for _, d := range []time.Duration{0, 1, 499, 500, 999_999, time.Millisecond, 1234567891, 3*time.Hour + 7, -1500 * time.Microsecond} {
		t.Run(d.String(), func(t *testing.T) {
			t.Parallel()
			want := strconv.FormatFloat(float64((d+500*time.Nanosecond*time.Duration(sign(d)))/time.Microsecond)/1e6, 'f', 6, 64)
			assert.Equal(t, want, string(appendSeconds(nil, d)))
		})
	}
}

// sign returns -1 for negative d, else 1.
func sign(d time.Duration) int {
	if d < 0 {
		return -1
	}
	return 1
}

// TestAppendJSONString checks the JSON string encoder against tricky names.
func TestAppendJSONString(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"plain.pcap", `"plain.pcap"`},
		{`a"b\c`, `"a\"b\\c"`},
		{"tab\tnl\n\x01", `"tab\tnl\n\u0001"`},
		{"ünï", `"ünï"`},
		{"bad\xffutf8", `"bad\ufffdutf8"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, string(appendJSONString(nil, tt.in)))
		})
	}
}

// TestPorts checks the -encrypted-port flag's set: lists, repeats, and bad ports.
func TestPorts(t *testing.T) {
	t.Parallel()
	var s Ports
	require.NoError(t, s.Set("8080, 53"))
	require.NoError(t, s.Set("65535"))
	assert.True(t, s.Has(53))
	assert.True(t, s.Has(8080))
	assert.False(t, s.Has(54))
	assert.Equal(t, "53,8080,65535", s.String())
	for _, bad := range []string{"0", "65536", "x", "1,,2"} {
		t.Run(bad, func(t *testing.T) {
			t.Parallel()
			var p Ports
			assert.Error(t, p.Set(bad))
		})
	}
}
