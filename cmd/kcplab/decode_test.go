package main

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"kcplab/kcpwire"
)

var (
	cliAddr = netip.MustParseAddrPort("127.0.0.1:40000")
	srvAddr = netip.MustParseAddrPort("127.0.0.1:8080")
)

// kcpSeg is a plain segment of conversation 7.
func kcpSeg(cmd kcpwire.Cmd, sn, una uint32, data []byte) kcpwire.Segment {
	return kcpwire.Segment{Conv: 7, Cmd: cmd, Wnd: 32, Sn: sn, Una: una, Data: data}
}

// plainPayload encodes segments back to back.
func plainPayload(segs ...kcpwire.Segment) []byte {
	var b []byte
	for i := range segs {
		b = segs[i].AppendTo(b)
	}
	return b
}

// fecPayload prefixes body with a FEC header (size = 2 + len(body) unless parity).
func fecPayload(seq uint32, typ kcpwire.ShardType, body []byte) []byte {
	h := kcpwire.FECHeader{SeqID: seq, Type: typ, Size: uint16(2 + len(body))}
	return append(h.AppendTo(nil), body...)
}

// TestDecodeFramesFECAndTruncation checks frame numbers across non-UDP
// records, the FEC header in JSON, and a datagram cut by the snap length.
func TestDecodeFramesFECAndTruncation(t *testing.T) {
	t.Parallel()
	ack := kcpSeg(kcpwire.CmdAck, 0, 1, nil)
	push := kcpSeg(kcpwire.CmdPush, 1, 1, bytes.Repeat([]byte{1}, 1000))
	data := fecPayload(5, kcpwire.ShardData, plainPayload(ack))
	parity := make([]byte, len(data))
	copy(parity, fecPayload(6, kcpwire.ShardParity, nil))
	parity[6], parity[7], parity[12] = 9, 9, 0x33
	oob := fecPayload(kcpwire.OOBSeqID, kcpwire.ShardOOB, []byte{7, 0, 0, 0, 'h', 'i'})
	cut := ethUDP(t, srvAddr, cliAddr, plainPayload(ack, push))
	path := writePcap(t, filepath.Join(t.TempDir(), "mixed.pcap"), []record{
		{frame: ethARP()}, // frame 1: not UDP
		{frame: ethUDP(t, cliAddr, srvAddr, data)},
		{frame: ethUDP(t, srvAddr, cliAddr, parity)},
		{frame: ethARP()},
		{frame: ethUDP(t, cliAddr, srvAddr, oob)},
		{frame: cut, snap: 14 + 20 + 8 + 54}, // frame 6: 54 of 1048 payload bytes
	})

	code, out, errs := kcplab(t, "decode", "-json", path)
	require.Equal(t, 0, code, errs)
	objs := jsonLines(t, out)
	require.Len(t, objs, 5, out) // data, parity, oob, truncated ACK and PUSH
	tests := []struct {
		name  string
		obj   map[string]any
		frame int
		fec   map[string]any
	}{
		{"data shard", objs[0], 2, map[string]any{"seqid": 5.0, "type": "data", "size": float64(2 + 24)}},
		{"parity shard on the data shard's flow", objs[1], 3, map[string]any{"seqid": 6.0, "type": "parity", "size": float64(9 + 9*256)}},
		{"oob shard", objs[2], 5, map[string]any{"seqid": float64(kcpwire.OOBSeqID), "type": "oob", "size": 8.0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.EqualValues(t, tt.frame, tt.obj["frame"])
			assert.Equal(t, "fec", tt.obj["framing"])
			assert.Equal(t, tt.fec, tt.obj["fec"])
			assert.Equal(t, path, tt.obj["file"])
		})
	}
	assert.EqualValues(t, 7, objs[2]["oob_conv"])
	assert.Equal(t, "ACK", objs[0]["cmd"])
	for _, o := range objs[3:5] {
		assert.EqualValues(t, 6, o["frame"])
		assert.EqualValues(t, 4, o["datagram"])
		assert.Equal(t, true, o["truncated"])
		assert.EqualValues(t, 54, o["captured"])
		assert.EqualValues(t, 1048, o["bytes"])
		assert.Equal(t, "plain", o["framing"])
	}
	assert.Equal(t, "ACK", objs[3]["cmd"])
	assert.Equal(t, "PUSH", objs[4]["cmd"])
	assert.EqualValues(t, 1000, objs[4]["len"])
	assert.EqualValues(t, 6, objs[4]["data_captured"])

	lines := decoded(t, 6, path)
	assert.Contains(t, lines[1], "FEC parity seq=6")
	assert.Contains(t, lines[2], "FEC oob seq=4294967295 size=8 conv=7 (14 bytes)")
	assert.Contains(t, lines[3], "truncated (captured 54 of 1048 bytes)")
	assert.Contains(t, lines[5], "PUSH conv=7 sn=1 una=1 frg=0 wnd=32 ts=0 len=1000")
	assert.True(t, strings.HasPrefix(strings.TrimSpace(lines[5]), "6 "), lines[5])
}

// TestDecodeEncryptedOnlyWhenNamed checks that ciphertext is "not KCP" unless
// the user names its port or the framing.
func TestDecodeEncryptedOnlyWhenNamed(t *testing.T) {
	t.Parallel()
	cipher := bytes.Repeat([]byte{0x9e, 0x37, 0x79, 0xb9, 0x7f, 0x4a, 0x7c, 0x15}, 20)
	path := writePcap(t, filepath.Join(t.TempDir(), "enc.pcap"), []record{
		{frame: ethUDP(t, cliAddr, srvAddr, cipher)},
		{frame: ethUDP(t, cliAddr, netip.MustParseAddrPort("127.0.0.1:53"), cipher)},
		{frame: ethUDP(t, cliAddr, srvAddr, plainPayload(kcpSeg(kcpwire.CmdAck, 0, 1, nil)))},
	})
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"auto", nil, []string{"not KCP (160 bytes)", "not KCP (160 bytes)", "ACK "}},
		{"named port", []string{"-encrypted-port", "8080"}, []string{"encrypted (160 bytes)", "not KCP (160 bytes)", "ACK "}},
		{"framing encrypted", []string{"-framing", "encrypted"}, []string{"encrypted (160 bytes)", "encrypted (160 bytes)", "encrypted (24 bytes)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, errs := kcplab(t, append(append([]string{"decode"}, tt.args...), path)...)
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if tt.name == "framing encrypted" {
				// 24 bytes are too short for kcp-go ciphertext: malformed, still exit 0
				require.Equal(t, 0, code, errs)
				assert.Contains(t, lines[2], "malformed encrypted")
				lines[2] = "encrypted (24 bytes)"
			}
			require.Equal(t, 0, code, errs)
			require.Len(t, lines, len(tt.want), out)
			for i, w := range tt.want {
				assert.Contains(t, lines[i], w, "line %d", i)
			}
		})
	}
}

// TestDecodeCutCaptureAndSeveralFiles checks that a capture cut short prints
// its complete records, then the error, that the next file is still decoded,
// and that the exit status is 2.
func TestDecodeCutCaptureAndSeveralFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var recs []record
	for i := range 5 {
		recs = append(recs, record{frame: ethUDP(t, cliAddr, srvAddr, plainPayload(kcpSeg(kcpwire.CmdPush, uint32(i), 0, []byte("data"))))})
	}
	good := writePcap(t, filepath.Join(dir, "good.pcap"), recs)
	cut := cutCopy(t, good)
	missing := filepath.Join(dir, "missing.pcap")

	for _, asJSON := range []bool{false, true} {
		t.Run(map[bool]string{false: "text", true: "json"}[asJSON], func(t *testing.T) {
			t.Parallel()
			args := []string{"decode", cut, missing, good}
			if asJSON {
				args = []string{"decode", "-json", cut, missing, good}
			}
			code, out, errs := kcplab(t, args...)
			assert.Equal(t, 2, code)
			assert.Contains(t, errs, "cut.pcap: byte offset")
			assert.Contains(t, errs, "pcap record cut off (reading packet 5)")
			assert.Contains(t, errs, "missing.pcap")
			assert.Contains(t, errs, "2 of 3 captures could not be read to the end")
			if asJSON {
				objs := jsonLines(t, out)
				require.Len(t, objs, 4+5)
				assert.Equal(t, cut, objs[3]["file"])
				assert.EqualValues(t, 4, objs[3]["frame"])
				assert.Equal(t, good, objs[4]["file"])
				assert.EqualValues(t, 1, objs[4]["frame"], "frame numbers restart per file")
				return
			}
			assert.Contains(t, out, "# "+cut+"\n")
			assert.Contains(t, out, "# "+good+"\n")
			assert.Equal(t, 4+5, strings.Count(out, "PUSH conv=7"))
		})
	}
}

// TestDecodeSaysWhenNothingIsPrinted checks the note on stderr for a capture with no UDP datagram
// and for a -port that matches none, and that neither is an error.
func TestDecodeSaysWhenNothingIsPrinted(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	arp := writePcap(t, filepath.Join(dir, "arp.pcap"), []record{{frame: ethARP()}, {frame: ethARP()}})
	none := writePcap(t, filepath.Join(dir, "none.pcap"), nil)
	kcp := writePcap(t, filepath.Join(dir, "kcp.pcap"), []record{{frame: ethUDP(t, cliAddr, srvAddr, plainPayload(kcpSeg(kcpwire.CmdPush, 0, 0, []byte("x"))))}})
	for _, tc := range []struct {
		name string
		args []string
		out  bool   // something on stdout
		note string // the note on stderr; "" for none
	}{
		{"no UDP", []string{"decode", arp}, false, arp + ": no UDP datagram in its 2 packets (link type Ethernet)"},
		{"no UDP, json", []string{"decode", "-json", arp}, false, arp + ": no UDP datagram in its 2 packets (link type Ethernet)"},
		{"another port", []string{"decode", "-port", "9", kcp}, false, kcp + ": none of its 1 UDP datagrams is to or from port 9"},
		{"its port", []string{"decode", "-port", "8080", kcp}, true, ""},
		{"no packets", []string{"decode", none}, false, none + ": the capture holds no packets"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, out, errs := kcplab(t, tc.args...)
			assert.Equal(t, 0, code)
			assert.Equal(t, tc.out, out != "", "stdout: %q", out)
			if tc.note == "" {
				assert.Empty(t, errs)
				return
			}
			assert.Equal(t, "kcplab decode: "+tc.note+"\n", errs)
		})
	}
}

// BenchmarkDecodeWholePath measures `kcplab decode` from file to output (a
// discarding writer) on a 20,000-datagram Ethernet/IPv4/UDP pcap, half
// 1,376-byte PUSH, half ACK, in text and JSON (with the sequence analysis,
// and text without): datagrams/s and heap allocations per datagram of the
// whole path (reading, link layers, KCP, analysis, formatting).
func BenchmarkDecodeWholePath(b *testing.B) {
	const n = 20_000
	path := benchCapture(b, filepath.Join(b.TempDir(), "bench.pcap"), n)
	for _, mode := range []struct {
		name string
		args []string
	}{
		{"text", []string{"decode", path}},
		{"json", []string{"decode", "-json", path}},
		{"text, analysis off", []string{"decode", "-analyze=false", path}},
	} {
		b.Run(mode.name, func(b *testing.B) {
			var errb bytes.Buffer
			var ms0, ms1 runtime.MemStats
			runtime.ReadMemStats(&ms0)
			start := time.Now()
			for b.Loop() {
				if code := program.Main(mode.args, discard{}, &errb); code != 0 {
					b.Fatalf("exit %d: %s", code, errb.String())
				}
			}
			elapsed := time.Since(start)
			runtime.ReadMemStats(&ms1)
			dgs := float64(n) * float64(b.N)
			b.ReportMetric(dgs/elapsed.Seconds(), "datagrams/s")
			b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/dgs, "allocs/datagram")
		})
	}
}

// discard is io.Discard without io.Discard's ReadFrom fast path.
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// TestWriteBenchCapture writes the 200,000-datagram capture of the speed
// comparison with tshark to $KCPLAB_BENCH_PCAP (skipped when unset):
//
//	KCPLAB_BENCH_PCAP=/tmp/bench.pcap go test ./cmd/kcplab -run TestWriteBenchCapture
func TestWriteBenchCapture(t *testing.T) {
	path := os.Getenv("KCPLAB_BENCH_PCAP")
	if path == "" {
		t.Skip("KCPLAB_BENCH_PCAP not set")
	}
	benchCapture(t, path, 200_000)
}

// TestDecodeSummary: -summary prints one block (-json: one object) per conversation, naming the
// response the client never acknowledged; a capture cut short prints the summary of its complete
// records and exits 2.
func TestDecodeSummary(t *testing.T) {
	t.Parallel()
	path := lostResponse(t)
	cut := cutCopy(t, path)
	tests := []struct {
		name string
		args []string
		code int
		want []string // lines of stdout, in order
	}{
		{"text", []string{"decode", "-summary", path}, 0, []string{
			"conv 7  127.0.0.1:40000 ⇄ 127.0.0.1:8080  frames 1-4  ",
			"  127.0.0.1:40000 → 127.0.0.1:8080  PUSH 1 (sn 0-0, 4 bytes, 0 sent again)  ACK 0  WASK 0  WINS 0  never acknowledged: none",
			"    acknowledged after: 2.000 ms (1 ACK)",
			"  127.0.0.1:8080 → 127.0.0.1:40000  PUSH 2 (sn 0-0, 8 bytes, 1 sent again)  ACK 1  WASK 0  WINS 0  never acknowledged: sn 0 (sent 2×)",
		}},
		{"json", []string{"decode", "-summary", "-json", path}, 0, []string{
			`{"file":"` + path + `","conv":7,"a":"127.0.0.1:40000","b":"127.0.0.1:8080","first_frame":1,"last_frame":4,`,
		}},
		{"cut capture", []string{"decode", "-summary", cut}, 2, []string{
			"conv 7  127.0.0.1:40000 ⇄ 127.0.0.1:8080  frames 1-3  ",
			"  127.0.0.1:40000 → 127.0.0.1:8080  PUSH 1 (sn 0-0, 4 bytes, 0 sent again)  ACK 0  WASK 0  WINS 0  never acknowledged: none",
			"    acknowledged after: 2.000 ms (1 ACK)",
			"  127.0.0.1:8080 → 127.0.0.1:40000  PUSH 1 (sn 0-0, 4 bytes, 0 sent again)  ACK 1  WASK 0  WINS 0  never acknowledged: sn 0",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, errs := kcplab(t, tt.args...)
			require.Equal(t, tt.code, code, errs)
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			require.Len(t, lines, len(tt.want), out)
			for i, w := range tt.want {
				assert.True(t, strings.HasPrefix(lines[i], w), "line %d: %q, want it to start with %q", i, lines[i], w)
			}
		})
	}
}

// lostResponse writes a capture of an echo whose response the client never acknowledged: the
// request (frame 1), an ARP frame, the server's ACK and response (frame 3), the response sent again
// (frame 4), a millisecond apart.
func lostResponse(t *testing.T) string {
	t.Helper()
	response := kcpSeg(kcpwire.CmdPush, 0, 1, []byte("echo"))
	return writePcap(t, filepath.Join(t.TempDir(), "lost.pcap"), []record{
		{frame: ethUDP(t, cliAddr, srvAddr, plainPayload(kcpSeg(kcpwire.CmdPush, 0, 0, []byte("echo"))))},
		{frame: ethARP()},
		{frame: ethUDP(t, srvAddr, cliAddr, plainPayload(kcpSeg(kcpwire.CmdAck, 0, 1, nil), response))},
		{frame: ethUDP(t, srvAddr, cliAddr, plainPayload(response))},
	})
}

// TestDecodeAnalysis: by default each segment line carries the sequence analysis, in text and
// -json: the response sent again names the frame that first sent it, the server's ACK the request's
// frame and the time since; -analyze=false prints the segments alone.
func TestDecodeAnalysis(t *testing.T) {
	t.Parallel()
	path := lostResponse(t)
	tests := []struct {
		name string
		args []string
		want []string // the ends of stdout's lines, in order
	}{
		{"text", []string{"decode", path}, []string{"len=4", "len=0 [acks frame 1 after 2.000 ms]", "len=4", "len=4 [retransmission of frame 3]"}},
		{"json", []string{"decode", "-json", path}, []string{`"len":4}`, `"len":0,"acks_frame":1,"ack_delay_ms":2.000}`, `"len":4}`, `"len":4,"retransmission_of":3}`}},
		{"off", []string{"decode", "-analyze=false", path}, []string{"len=4", "len=0", "len=4", "len=4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, errs := kcplab(t, tt.args...)
			require.Equal(t, 0, code, errs)
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			require.Len(t, lines, len(tt.want), out)
			for i, w := range tt.want {
				assert.True(t, strings.HasSuffix(lines[i], w), "line %d: %q, want it to end with %q", i, lines[i], w)
			}
		})
	}
}
