package wireshark

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"kcplab/kcpwire"
)

const mutationCount = 600 // mutated payloads in TestMutatedPayloads

// mutatedPayloads derives n payloads from valid plain and FEC datagrams by truncating them,
// overwriting a byte or a len/size field, or appending bytes.
func mutatedPayloads(n int) [][]byte {
	r := rand.New(rand.NewPCG(5, 6))
	push := segBytes(synthConv, cmdPush, 0, 32, 100, 7, 3, []byte("hello kcp"))
	ack := segBytes(synthConv, cmdAck, 0, 32, 90, 6, 3, nil)
	parity := fecBytes(12, fecParity, randomBytes(r, 50))
	parity[30], parity[31] = 0, 0
	bases := [][]byte{
		push,
		cat(ack, push, push),
		fecBytes(1, fecData, cat(ack, push)),
		parity,
		fecBytes(0xffffffff, fecOOB, cat(binary.LittleEndian.AppendUint32(nil, synthConv), []byte("oob"))),
	}
	out := make([][]byte, 0, n)
	for len(out) < n {
		b := cat(bases[r.IntN(len(bases))])
		switch r.IntN(4) {
		case 0:
			b = b[:r.IntN(len(b))+1]
		case 1:
			b[r.IntN(len(b))] = byte(r.UintN(256))
		case 2:
			off := []int{6, 20, 28, 44, 52}[r.IntN(5)]
			if off+2 <= len(b) {
				binary.LittleEndian.PutUint16(b[off:], uint16(r.UintN(80)))
			}
		case 3:
			b = append(b, randomBytes(r, 1+r.IntN(30))...)
		}
		out = append(out, b)
	}
	return out
}

// TestMutatedPayloads feeds damaged KCP datagrams to the dissector under every framing and to
// the heuristic: no Lua error, the same verdict as kcpwire on the port, and the heuristic
// claims only datagrams that kcpwire decodes as plain or FEC.
func TestMutatedPayloads(t *testing.T) {
	requireTshark(t)
	script := luaScript(t)
	client, server := kcpPorts(t, "127.0.0.1:40005", "127.0.0.1:40006")
	dgs := datagrams(client, server, mutatedPayloads(mutationCount))
	path := writeCapture(t, "mutated", dgs)
	everyFraming(t, script, path, server.Port(), dgs, func(t *testing.T, f kcpwire.Framing, want []frame) {
		malformed := 0
		for _, w := range want {
			if w.Malformed {
				malformed++
			}
		}
		t.Logf("framing %v: %d of %d mutated datagrams malformed", f, malformed, len(want))
	})
	t.Run("heuristic", func(t *testing.T) {
		t.Parallel()
		got := parseFrames(t, runTshark(t, decodeArgs(script, path)...))
		require.Len(t, got, len(dgs))
		want := expectFrames(dgs, kcpwire.FramingAuto)
		claimed := 0
		for i, g := range got {
			if g.Framing == "" {
				continue
			}
			claimed++
			assert.Contains(t, []string{"plain", "fec"}, want[i].Framing, "frame %d claimed, kcpwire: %+v", i+1, want[i])
			assert.Equal(t, want[i], g, "frame %d", i+1)
		}
		t.Logf("heuristic claimed %d of %d mutated datagrams", claimed, len(dgs))
	})
}
