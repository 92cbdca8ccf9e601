package wireshark

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"kcplab/capture"
	"kcplab/kcpwire"
	"kcplab/pcapfile"
)

// portsPref returns the -o value that registers ports for KCP.
func portsPref(ports ...uint16) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = fmt.Sprint(p)
	}
	return "kcp.ports:" + strings.Join(s, ",")
}

// writeCapture writes dgs to name in a fresh temporary directory and returns its path.
func writeCapture(t *testing.T, name string, dgs []capture.Datagram) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name+".pcapng")
	require.NoError(t, pcapfile.WritePcapngFile(path, dgs, pcapfile.Annotations{Section: "kcplab wireshark test: " + name}))
	return path
}

// TestDissectorMatchesDecoder runs kcp-go sessions of every framing, captures them and checks
// that kcp.lua decodes every field of every segment of every frame exactly as kcpwire does,
// on the KCP ports and, for plain and FEC traffic, through the heuristic alone.
func TestDissectorMatchesDecoder(t *testing.T) {
	requireTshark(t)
	script, avoid := luaScript(t), tsharkUDPPorts(t)
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			dgs, ports := runScenario(t, sc, avoid)
			path := writeCapture(t, sc.name, dgs)
			want := expectFrames(dgs, kcpwire.FramingAuto)
			checkScenarioTraffic(t, sc, want)

			got := parseFrames(t, runTshark(t, decodeArgs(script, path, portsPref(ports...))...))
			compareFrames(t, want, got)

			heur := parseFrames(t, runTshark(t, decodeArgs(script, path)...))
			if sc.crypt {
				for _, f := range heur {
					assert.Empty(t, f.Framing, "frame %d: the heuristic claimed encrypted traffic", f.Number)
				}
				return
			}
			compareFrames(t, want, heur)
		})
	}
}

// checkScenarioTraffic checks that the captured traffic has what the scenario is for.
func checkScenarioTraffic(t *testing.T, sc scenario, want []frame) {
	t.Helper()
	var multi, fragments, parity, oob int
	for _, f := range want {
		require.False(t, f.Malformed, "kcpwire cannot decode frame %d of real kcp-go traffic", f.Number)
		if sc.crypt {
			require.Equal(t, "encrypted", f.Framing, "frame %d", f.Number)
			continue
		}
		if sc.dataShards > 0 {
			require.Equal(t, "fec", f.Framing, "frame %d", f.Number)
		} else {
			require.Equal(t, "plain", f.Framing, "frame %d", f.Number)
		}
		if len(f.Segments) > 1 {
			multi++
		}
		for _, s := range f.Segments {
			if s.Frg > 0 {
				fragments++
			}
		}
		if f.FEC != nil && f.FEC.Type == fecParity {
			parity++
		}
		if f.OOBConv != nil {
			oob++
		}
	}
	t.Logf("%s: %d datagrams, %d with several segments, %d segments with frg > 0, %d parity, %d oob",
		sc.name, len(want), multi, fragments, parity, oob)
	if sc.crypt {
		return
	}
	assert.Positive(t, multi, "no datagram with several segments")
	if sc.rawClient {
		assert.Positive(t, fragments, "no segment with frg > 0")
	}
	if sc.dataShards > 0 {
		assert.Positive(t, parity, "no parity shard")
	}
	if sc.oob {
		assert.Equal(t, 1, oob, "OOB shards")
	}
}

// TestFramingPreference checks valid and malformed payloads under every framing preference:
// the dissector agrees with kcpwire decoding with the same framing, and never raises a Lua error.
func TestFramingPreference(t *testing.T) {
	requireTshark(t)
	script := luaScript(t)
	client, server := kcpPorts(t, "127.0.0.1:40001", "127.0.0.1:40002")
	dgs := datagrams(client, server, edgePayloads())
	everyFraming(t, script, writeCapture(t, "edges", dgs), server.Port(), dgs, nil)
}

// everyFraming runs tshark on the capture at path, with the KCP port and each framing preference, in
// parallel subtests, and compares its frames with kcpwire's decoding of dgs under that framing; then,
// unless nil, also looks at what kcpwire decoded.
func everyFraming(t *testing.T, script, path string, port uint16, dgs []capture.Datagram,
	also func(t *testing.T, f kcpwire.Framing, want []frame)) {
	t.Helper()
	for _, f := range []kcpwire.Framing{kcpwire.FramingAuto, kcpwire.FramingPlain, kcpwire.FramingFEC,
		kcpwire.FramingEncrypted} {
		t.Run(f.String(), func(t *testing.T) {
			t.Parallel()
			out := runTshark(t, decodeArgs(script, path, portsPref(port), "kcp.framing:"+f.String())...)
			want := expectFrames(dgs, f)
			compareFrames(t, want, parseFrames(t, out))
			if also != nil {
				also(t, f, want)
			}
		})
	}
}

// TestHeuristicIgnoresOtherUDP checks that without a port the heuristic claims only
// consistent KCP, not DNS, QUIC, random payloads or KCP look-alikes, also when tshark tries
// heuristics before port dissectors.
func TestHeuristicIgnoresOtherUDP(t *testing.T) {
	requireTshark(t)
	script := luaScript(t)
	cases := heuristicCases()
	path := writeCapture(t, "other-udp", heuristicDatagrams(cases, tsharkUDPPorts(t)))
	for _, prefs := range [][]string{nil, {"udp.try_heuristic_first:TRUE"}} {
		t.Run(fmt.Sprintf("prefs=%v", prefs), func(t *testing.T) {
			t.Parallel()
			frames := parseFrames(t, runTshark(t, decodeArgs(script, path, prefs...)...))
			require.Len(t, frames, len(cases))
			for i, c := range cases {
				assert.Equal(t, c.claim, frames[i].Framing != "", "frame %d (%s): claimed as %q",
					i+1, c.name, frames[i].Framing)
				assert.False(t, frames[i].Malformed, "frame %d (%s)", i+1, c.name)
			}
		})
	}
}

// TestDocumentedLadderCommand runs the ladder command of kcp.lua's header comment and checks
// it prints one line per KCP datagram with the documented columns.
func TestDocumentedLadderCommand(t *testing.T) {
	requireTshark(t)
	args := documentedLadder(t)
	client, server := netip.MustParseAddrPort("127.0.0.1:40003"), netip.MustParseAddrPort("127.0.0.1:40004")
	payloads := edgePayloads()[:4] // plain and FEC datagrams the heuristic claims
	path := writeCapture(t, "ladder", datagrams(client, server, payloads))
	for i, a := range args {
		args[i] = strings.NewReplacer("wireshark/kcp.lua", luaScript(t), "FILE.pcapng", path).Replace(a)
	}
	out := runTshark(t, args...)
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	require.Len(t, lines, len(payloads), "ladder:\n%s", out)
	first := strings.Split(lines[0], "\t")
	require.Len(t, first, 9, "ladder line %q", lines[0])
	assert.Equal(t, []string{"127.0.0.1", "40003", "127.0.0.1", "40004", "81", "7", "3", "3"}, first[1:])
}

// documentedLadder returns the arguments of the ladder command in kcp.lua's header (the
// comment line starting with "tshark" after "A ladder", with its "\" continuations).
func documentedLadder(t *testing.T) []string {
	t.Helper()
	src, err := os.ReadFile("kcp.lua")
	require.NoError(t, err)
	var cmd []string
	inLadder, inCmd := false, false
	for _, line := range strings.Split(string(src), "\n") {
		text, ok := strings.CutPrefix(line, "--")
		if !ok {
			break
		}
		text = strings.TrimSpace(text)
		switch {
		case strings.HasPrefix(text, "A ladder"):
			inLadder = true
		case inLadder && !inCmd && strings.HasPrefix(text, "tshark "):
			inCmd = true
			fallthrough
		case inCmd:
			more := strings.HasSuffix(text, `\`)
			cmd = append(cmd, strings.Fields(strings.TrimSuffix(text, `\`))...)
			if !more {
				require.Equal(t, "tshark", cmd[0])
				return cmd[1:]
			}
		}
	}
	require.Fail(t, "kcp.lua's header has no ladder command after \"A ladder\"")
	return nil
}
