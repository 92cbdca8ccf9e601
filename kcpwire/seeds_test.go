package kcpwire

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// writeSeeds regenerates testdata/fuzz/FuzzDecode from real kcp-go traffic:
//
//	go test ./kcpwire -run TestWriteFuzzSeeds -kcpwire.write-seeds
var writeSeeds = flag.Bool("kcpwire.write-seeds", false, "capture kcp-go traffic and rewrite the FuzzDecode seed corpus")

// seedPick chooses the first datagram of a capture that matches.
type seedPick struct {
	name    string
	framing Framing // framing argument of the seed
	match   func(p []byte, d *Datagram) bool
}

// optionalSeeds may be missing from a capture: WINS is only sent when a
// window update happens to be needed.
var optionalSeeds = map[string]bool{"plain_wins": true}

func firstSegCmd(d *Datagram, c Cmd, n int) bool {
	return len(d.Segments) == n && d.Segments[0].Cmd == c
}

// seedPicks lists, per traffic case, the datagrams worth keeping as seeds.
var seedPicks = map[string][]seedPick{
	"plain": {
		{"plain_push", FramingAuto, func(_ []byte, d *Datagram) bool { return firstSegCmd(d, CmdPush, 1) }},
		{"plain_push_explicit", FramingPlain, func(_ []byte, d *Datagram) bool { return firstSegCmd(d, CmdPush, 1) && d.Segments[0].Len > 1000 }},
		{"plain_ack", FramingAuto, func(_ []byte, d *Datagram) bool { return firstSegCmd(d, CmdAck, 1) }},
		{"plain_multi", FramingAuto, func(_ []byte, d *Datagram) bool { return len(d.Segments) > 2 }},
		{"plain_wins", FramingAuto, func(_ []byte, d *Datagram) bool {
			for _, s := range d.Segments {
				if s.Cmd == CmdWins {
					return true
				}
			}
			return false
		}},
	},
	"fec": {
		{"fec_data", FramingAuto, func(_ []byte, d *Datagram) bool { return d.FEC.Type == ShardData && len(d.Segments) == 1 }},
		{"fec_data_multi", FramingFEC, func(_ []byte, d *Datagram) bool { return d.FEC.Type == ShardData && len(d.Segments) > 1 }},
		{"fec_parity", FramingAuto, func(_ []byte, d *Datagram) bool { return d.FEC.Type == ShardParity }},
		{"fec_oob", FramingAuto, func(_ []byte, d *Datagram) bool { return d.FEC.Type == ShardOOB }},
	},
	"aes-cfb":     {{"encrypted_cfb", FramingAuto, func(p []byte, _ *Datagram) bool { return len(p) < 100 }}},
	"aes-cfb+fec": {{"encrypted_cfb_fec", FramingAuto, func(p []byte, _ *Datagram) bool { return len(p) < 100 }}},
	"aes-gcm+fec": {{"encrypted_gcm_fec", FramingEncrypted, func(p []byte, _ *Datagram) bool { return len(p) < 100 }}},
}

// TestWriteFuzzSeeds captures real kcp-go traffic of every kind and writes
// the picked datagrams in the "go test fuzz v1" format. It only runs with
// -kcpwire.write-seeds.
func TestWriteFuzzSeeds(t *testing.T) {
	if !*writeSeeds {
		t.Skip("run with -kcpwire.write-seeds to regenerate testdata/fuzz/FuzzDecode")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzDecode")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	for _, tc := range trafficCases {
		pkts := runTraffic(t, tc, 300)
		for _, pick := range seedPicks[tc.name] {
			var d Datagram
			found := false
			for _, p := range pkts {
				if d.Decode(p, tc.want) == nil && pick.match(p, &d) {
					require.NoError(t, os.WriteFile(filepath.Join(dir, pick.name), corpusFile(p, byte(pick.framing)), 0o644))
					found = true
					break
				}
			}
			if !found && optionalSeeds[pick.name] {
				t.Logf("no datagram for optional seed %s in %d datagrams", pick.name, len(pkts))
				continue
			}
			require.True(t, found, "no datagram for seed %s in %d datagrams", pick.name, len(pkts))
		}
	}
}

// corpusFile encodes the FuzzDecode arguments as a "go test fuzz v1" file.
func corpusFile(payload []byte, framing byte) []byte {
	return fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\nbyte(%q)\n", payload, framing)
}
