package claims

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"kcplab/link"
	"kcplab/pcapfile"
)

// udpPacket is an IPv4 packet carrying a UDP datagram of payload from 198.18.0.1:1000 to 198.18.0.2:2000.
func udpPacket(payload []byte) []byte {
	n := 28 + len(payload)
	p := []byte{0x45, 0, byte(n >> 8), byte(n), 0, 0, 0, 0, 64, 17, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2,
		0x03, 0xe8, 0x07, 0xd0, byte((n - 20) >> 8), byte(n - 20), 0, 0}
	return append(p, payload...)
}

// TestKeepAndWritePcaps checks which cases keep their packets, and that WritePcaps writes one file
// per workload and condition, its transports side by side, and leaves out results with no packets.
func TestKeepAndWritePcaps(t *testing.T) {
	t.Parallel()
	loss10 := InteractiveConditions[0]
	for _, c := range InteractiveConditions {
		if c.Name == "loss 10%" {
			loss10 = c
		}
	}
	require.Equal(t, "loss 10%", loss10.Name)
	kept := Case{Workload: InteractiveEcho, Transport: TCP, Path: Hosts, Link: loss10.Link, Seed: 1}
	require.True(t, KeepPcap(kept))
	for name, c := range map[string]Case{
		"second seed":   {Workload: kept.Workload, Transport: TCP, Path: Hosts, Link: kept.Link, Seed: 2},
		"loopback path": {Workload: kept.Workload, Transport: TCP, Path: Loopback, Link: kept.Link, Seed: 1},
		"other link":    {Workload: kept.Workload, Transport: TCP, Path: Hosts, Link: "delay=1ms", Seed: 1},
	} {
		require.False(t, KeepPcap(c), name)
	}

	t0 := time.Unix(1700000000, 0)
	rec := func(data string, fate link.Fate, copied int) link.Record {
		r := link.Record{Sent: t0, Fate: fate, Copied: copied, Payload: udpPacket([]byte(data))}
		r.Copies[0].Fate = fate
		return r
	}
	kcp := kept
	kcp.Transport = KCP(ModeNormal)
	results := []Result{
		{Case: kept, Records: []link.Record{rec("tcp", link.FateDelivered, 1), rec("lost", link.FateLoss, 0)}},
		{Case: kcp, Records: []link.Record{rec("kcp", link.FateDelivered, 1)}},
		{Case: Case{Workload: InteractiveEcho, Transport: TCP, Path: Hosts, Link: loss10.Link, Seed: 2}}, // no packets kept
	}
	dir := t.TempDir()
	slug := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
				return r
			}
			return '-'
		}, strings.ToLower(s))
	}
	pcaps, err := WritePcaps(dir, results, slug)
	require.NoError(t, err)
	require.Len(t, pcaps, 1)
	require.Len(t, pcaps[0].Results, 2)
	require.Equal(t, filepath.Join(dir, slug(InteractiveEcho.Name()+" loss 10%")+".pcapng"), pcaps[0].Path, "named by workload and condition")

	f, err := pcapfile.ReadFile(pcaps[0].Path)
	require.NoError(t, err)
	require.Len(t, f.Datagrams, 3, "both transports' packets in one file")
	require.Contains(t, f.Section, pcaps[0].Title)
	var notDelivered int
	for _, cs := range f.Comments {
		for _, c := range cs {
			if strings.Contains(c, "not delivered") {
				notDelivered++
			}
		}
	}
	require.Equal(t, 1, notDelivered, "the lost packet is marked")
}
