package pcapfile

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The fixtures in testdata/ are real dumpcap captures (Wireshark 4.0, Linux)
// of one small exchange on 127.0.0.1 and ::1: 3 ping/pong pairs between ports
// 47801 and 47802, then "v6 hello" from [::1]:47803 to itself.
func TestReadDumpcapFixtures(t *testing.T) {
	t.Parallel()
	v4a, v4b := netip.MustParseAddrPort("127.0.0.1:47801"), netip.MustParseAddrPort("127.0.0.1:47802")
	v6 := netip.MustParseAddrPort("[::1]:47803")
	type dg struct {
		src, dst netip.AddrPort
		payload  string
	}
	var want []dg
	for i := range 3 {
		want = append(want, dg{v4a, v4b, fmt.Sprintf("ping %d", i)}, dg{v4b, v4a, fmt.Sprintf("pong %d", i)})
	}
	want = append(want, dg{v6, v6, "v6 hello"})

	tests := []struct {
		file     string
		linkType string
	}{
		{"lo-dumpcap.pcapng", "Ethernet"},
		{"lo-dumpcap.pcap", "Ethernet"},
		{"any-dumpcap.pcapng", "Linux SLL"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			f, err := ReadFile(filepath.Join("testdata", tt.file))
			require.NoError(t, err)
			assert.Equal(t, tt.linkType, f.LinkType)
			assert.Zero(t, f.Skipped)
			require.Len(t, f.Datagrams, len(want))
			for i, w := range want {
				d := f.Datagrams[i]
				assert.Equal(t, w.src, d.Src, "datagram %d", i)
				assert.Equal(t, w.dst, d.Dst, "datagram %d", i)
				assert.Equal(t, w.payload, string(d.Payload), "datagram %d", i)
				if i > 0 {
					assert.False(t, d.Time.Before(f.Datagrams[i-1].Time), "datagram %d in time order", i)
				}
			}
		})
	}
}
