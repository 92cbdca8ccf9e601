package wireshark

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"kcplab/capture"
	"kcplab/decode"
	"kcplab/internal/dir"
	"kcplab/internal/quantile"
)

// TestSequenceAnalysis: the dissector marks a PUSH sent again as a retransmission of its first
// frame (and says so first in the Info column, "Spurious" when an ACK had shown a copy arrived), and points an ACK at the PUSH whose ts it echoes, with
// the time since; another conv, or the other direction, is another sequence. tshark's second pass
// (-2) shows the same; the preference kcp.analyze turns it off.
func TestSequenceAnalysis(t *testing.T) {
	requireTshark(t)
	t.Parallel()
	cli, srv := netip.MustParseAddrPort("127.0.0.1:40000"), netip.MustParseAddrPort("127.0.0.1:8080")
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name    string
		at      time.Duration
		fromCli bool
		payload []byte
		// want: kcp.analysis.retransmission, kcp.analysis.acks_frame, kcp.analysis.ack_rtt (s),
		// kcp.analysis.spurious
		retrans, acks, rtt, spurious string
	}{
		{"the request", 0, true, segBytes(synthConv, cmdPush, 0, 32, 1000, 0, 0, []byte("hello")), "", "", "", ""},
		{"the request sent again", 200 * time.Millisecond, true, segBytes(synthConv, cmdPush, 0, 32, 1200, 0, 0, []byte("hello")), "1", "", "", ""},
		{"the server's ACK of the first copy (its ts): the retransmission was spurious", 201 * time.Millisecond, false,
			segBytes(synthConv, cmdAck, 0, 32, 1000, 0, 1, nil), "", "1", "0.201000000", "1"},
		{"the server's ACK of the second copy (its ts), and its response", 202 * time.Millisecond, false,
			cat(segBytes(synthConv, cmdAck, 0, 32, 1200, 0, 1, nil), segBytes(synthConv, cmdPush, 0, 32, 7, 0, 1, []byte("hello"))), "", "2", "0.002000000", ""},
		{"a PUSH of sn 0 on another conv", 203 * time.Millisecond, false, segBytes(synthConv+1, cmdPush, 0, 32, 8, 0, 0, []byte("x")), "", "", "", ""},
		{"the client's ACK of the response", 302 * time.Millisecond, true, segBytes(synthConv, cmdAck, 0, 32, 7, 0, 1, nil), "", "4", "0.100000000", ""},
		{"an ACK of an sn never sent", 303 * time.Millisecond, true, segBytes(synthConv, cmdAck, 0, 32, 7, 9, 1, nil), "", "", "", ""},
		{"an ACK of the response echoing a ts no copy carried (the capture missed it)", 303 * time.Millisecond, true,
			segBytes(synthConv, cmdAck, 0, 32, 99, 0, 1, nil), "", "", "", ""},
		{"the server's ACK of the first copy again: nothing newly spurious", 304 * time.Millisecond, false,
			segBytes(synthConv, cmdAck, 0, 32, 1000, 0, 1, nil), "", "1", "0.304000000", ""},
		{"the request sent a third time, after ACKs showed copies arrived: a spurious retransmission", 305 * time.Millisecond, true,
			segBytes(synthConv, cmdPush, 0, 32, 1305, 0, 0, []byte("hello")), "1", "", "", "1"},
	}
	dgs := make([]capture.Datagram, len(tests))
	for i, tt := range tests {
		d := capture.Datagram{Time: t0.Add(tt.at), Src: srv, Dst: cli, Payload: tt.payload, Side: dir.S2C}
		if tt.fromCli {
			d.Src, d.Dst, d.Side = cli, srv, dir.C2S
		}
		dgs[i] = d
	}
	path := writeCapture(t, "analysis", dgs)
	fields := []string{"frame.number", "kcp.analysis.retransmission", "kcp.analysis.acks_frame", "kcp.analysis.ack_rtt", "kcp.analysis.spurious"}
	analysis := func(extra []string, prefs ...string) []string {
		out := runTshark(t, append(fieldArgs(luaScript(t), path, fields, append(prefs, portsPref(srv.Port()))...), extra...)...)
		lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
		require.Len(t, lines, len(tests), out)
		return lines
	}
	lines, off := analysis(nil), analysis(nil, "kcp.analyze:FALSE")
	assert.Equal(t, lines, analysis([]string{"-2"}), "a second pass reads what the first recorded")
	// tshark's one-line summaries end with the Info column (its field is named differently across versions)
	info := func(extra ...string) []string {
		args := append([]string{"-X", "lua_script:" + luaScript(t), "-o", portsPref(srv.Port())}, extra...)
		out := runTshark(t, append(args, "-r", path)...)
		lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
		require.Len(t, lines, len(tests), out)
		return lines
	}
	infos, infosOff := info(), info("-o", "kcp.analyze:FALSE")
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := strings.Split(lines[i], "\t")
			require.Len(t, col, 5, lines[i])
			assert.Equal(t, []string{tt.retrans, tt.acks, tt.rtt, tt.spurious}, col[1:])
			assert.Equal(t, strconv.Itoa(i+1)+"\t\t\t\t", off[i], "with kcp.analyze off")
			switch {
			case tt.retrans != "" && tt.spurious != "":
				assert.Contains(t, infos[i], "[Spurious Retransmission] PUSH sn=0", "Info")
			case tt.retrans != "":
				assert.Contains(t, infos[i], "[Retransmission] PUSH sn=0", "Info")
				assert.NotContains(t, infos[i], "Spurious", "Info")
			default:
				assert.NotContains(t, infos[i], "Retransmission]", "Info")
			}
			assert.NotContains(t, infosOff[i], "Retransmission]", "Info with kcp.analyze off")
		})
	}
}

// TestAnalysisAgreesWithDecode: on seeded random traffic of one conversation (PUSH segments that
// repeat sn, both ways, up to three segments to a datagram, and ACKs that echo the ts of one of the
// PUSH's transmissions or of none), the dissector and `kcplab decode` mark the same segments of each
// frame (the first frame of a retransmission, the frame an ACK acknowledges, the retransmissions it
// shows spurious); it marks as many retransmissions and spurious ones as `decode -summary` counts,
// and times the same ACKs of each side's PUSH segments (count, shortest, median, longest delay): two
// implementations of one definition.
func TestAnalysisAgreesWithDecode(t *testing.T) {
	requireTshark(t)
	t.Parallel()
	cli, srv := netip.MustParseAddrPort("127.0.0.1:40000"), netip.MustParseAddrPort("127.0.0.1:8080")
	r := rand.New(rand.NewPCG(15, 2026))
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	sentTs := [2]map[uint32][]uint32{{}, {}} // by side (0: client), PUSH sn → the ts of its transmissions
	var dgs []capture.Datagram
	for i := range 400 {
		side := r.IntN(2)
		var acks, pushes []byte // a kcp-go flush: its ACKs before its PUSHes, which decode calls KCP
		for range 1 + r.IntN(3) {
			sn := uint32(r.IntN(40))
			if r.IntN(3) > 0 {
				pushes = append(pushes, segBytes(synthConv, cmdPush, 0, 32, uint32(i), sn, 0, []byte("x"))...)
				sentTs[side][sn] = append(sentTs[side][sn], uint32(i))
				continue
			}
			ts := uint32(1 << 20) // echoes no transmission: neither side times it
			if sent := sentTs[1-side][sn]; len(sent) > 0 && r.IntN(4) > 0 {
				ts = sent[r.IntN(len(sent))]
			}
			acks = append(acks, segBytes(synthConv, cmdAck, 0, 32, ts, sn, 0, nil)...)
		}
		d := capture.Datagram{Time: t0.Add(time.Duration(i) * time.Millisecond), Src: cli, Dst: srv,
			Payload: append(acks, pushes...), Side: dir.C2S}
		if side == 1 {
			d.Src, d.Dst, d.Side = srv, cli, dir.S2C
		}
		dgs = append(dgs, d)
	}
	path := writeCapture(t, "random", dgs)

	// kcp.lua: retransmissions, and ACK delays by the side whose PUSH segments were ACKed
	out := runTshark(t, fieldArgs(luaScript(t), path, []string{"udp.srcport", "kcp.analysis.retransmission", "kcp.analysis.ack_rtt",
		"frame.number", "kcp.analysis.acks_frame", "kcp.analysis.spurious"}, portsPref(srv.Port()))...)
	marked := 0
	luaDelays := map[string][]float64{} // ms, by the PUSH sender's address
	var luaMarks []string               // by frame: its retransmissions' first frames, the frames its ACKs acknowledge, the spurious counts
	luaSpurious := 0
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		col := strings.Split(line, "\t")
		require.Len(t, col, 6, line)
		if col[1] != "" {
			marked += len(strings.Split(col[1], ","))
		}
		for _, v := range strings.Split(col[5], ",") {
			if v != "" {
				n, err := strconv.Atoi(v)
				require.NoError(t, err, line)
				luaSpurious += n
			}
		}
		luaMarks = append(luaMarks, col[3]+" "+col[1]+" "+col[4]+" "+col[5])
		pusher := cli.String() // the ACK's sender is the server
		if col[0] != fmt.Sprint(srv.Port()) {
			pusher = srv.String()
		}
		for _, v := range strings.Split(col[2], ",") {
			if v != "" {
				s, err := strconv.ParseFloat(v, 64)
				require.NoError(t, err, line)
				luaDelays[pusher] = append(luaDelays[pusher], s*1000)
			}
		}
	}

	// decode: the same marks, frame by frame
	var segs bytes.Buffer
	dc := decode.New(&segs, decode.Options{JSON: true, Analyze: true})
	require.NoError(t, dc.File(path))
	require.NoError(t, dc.Flush())
	var retrans, acks, spurious [][]string // by frame - 1
	for line := range strings.Lines(segs.String()) {
		var seg struct {
			Frame            int `json:"frame"`
			RetransmissionOf int `json:"retransmission_of"`
			AcksFrame        int `json:"acks_frame"`
			Spurious         int `json:"spurious"`
		}
		require.NoError(t, json.Unmarshal([]byte(line), &seg))
		for len(retrans) < seg.Frame {
			retrans, acks, spurious = append(retrans, nil), append(acks, nil), append(spurious, nil)
		}
		if seg.Spurious > 0 {
			spurious[seg.Frame-1] = append(spurious[seg.Frame-1], strconv.Itoa(seg.Spurious))
		}
		if seg.RetransmissionOf > 0 {
			retrans[seg.Frame-1] = append(retrans[seg.Frame-1], strconv.Itoa(seg.RetransmissionOf))
		}
		if seg.AcksFrame > 0 {
			acks[seg.Frame-1] = append(acks[seg.Frame-1], strconv.Itoa(seg.AcksFrame))
		}
	}
	decodeMarks := make([]string, len(retrans))
	for i := range retrans {
		decodeMarks[i] = strconv.Itoa(i+1) + " " + strings.Join(retrans[i], ",") + " " + strings.Join(acks[i], ",") +
			" " + strings.Join(spurious[i], ",")
	}
	assert.Equal(t, luaMarks, decodeMarks, "frame, retransmissions' first frames, ACKs' frames, spurious counts: kcp.lua against decode")

	// decode -summary
	var summary bytes.Buffer
	dc = decode.New(&summary, decode.Options{JSON: true, Summary: true})
	require.NoError(t, dc.File(path))
	require.NoError(t, dc.Flush())
	type delays struct{ N, Min, Median, Max float64 }
	type flow struct {
		SentAgain int     `json:"sent_again"`
		Spurious  int     `json:"spurious"`
		AckDelay  *delays `json:"ack_delay_ms"`
	}
	var c struct {
		A    string `json:"a"`
		B    string `json:"b"`
		AToB flow   `json:"a_to_b"`
		BToA flow   `json:"b_to_a"`
	}
	lines := strings.Split(strings.TrimSpace(summary.String()), "\n")
	require.Len(t, lines, 1, "one conversation")
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &c))

	require.Positive(t, c.AToB.SentAgain+c.BToA.SentAgain, "the traffic must repeat some sn")
	assert.Equal(t, c.AToB.SentAgain+c.BToA.SentAgain, marked, "retransmissions: decode -summary against kcp.lua")
	require.Positive(t, luaSpurious, "the traffic must show some retransmissions spurious")
	assert.Equal(t, c.AToB.Spurious+c.BToA.Spurious, luaSpurious, "spurious retransmissions: decode -summary against kcp.lua")
	for pusher, f := range map[string]flow{c.A: c.AToB, c.B: c.BToA} {
		t.Run("ACKs of "+pusher+"'s PUSH segments", func(t *testing.T) {
			lua := slices.Sorted(slices.Values(luaDelays[pusher]))
			require.NotEmpty(t, lua)
			require.NotNil(t, f.AckDelay)
			assert.EqualValues(t, len(lua), f.AckDelay.N, "ACKs timed")
			assert.InDelta(t, lua[0], f.AckDelay.Min, 1e-3, "shortest, ms")
			assert.InDelta(t, quantile.Of(lua, 0.5), f.AckDelay.Median, 1e-3, "median, ms")
			assert.InDelta(t, lua[len(lua)-1], f.AckDelay.Max, 1e-3, "longest, ms")
		})
	}
}
