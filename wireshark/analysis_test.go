package wireshark

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"kcplab/capture"
	"kcplab/decode"
	"kcplab/internal/dir"
)

// TestSequenceAnalysis: the dissector marks a PUSH sent again as a retransmission of its first
// frame, and points an ACK at the PUSH whose ts it echoes, with the time since; another conv, or the
// other direction, is another sequence. tshark's second pass (-2) shows the same; the preference
// kcp.analyze turns it off.
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
		// want: kcp.analysis.retransmission, kcp.analysis.acks_frame, kcp.analysis.ack_rtt (s)
		retrans, acks, rtt string
	}{
		{"the request", 0, true, segBytes(synthConv, cmdPush, 0, 32, 1000, 0, 0, []byte("hello")), "", "", ""},
		{"the request sent again", 200 * time.Millisecond, true, segBytes(synthConv, cmdPush, 0, 32, 1200, 0, 0, []byte("hello")), "1", "", ""},
		{"the server's ACK of the first copy (its ts): the retransmission was spurious", 201 * time.Millisecond, false,
			segBytes(synthConv, cmdAck, 0, 32, 1000, 0, 1, nil), "", "1", "0.201000000"},
		{"the server's ACK of the second copy (its ts), and its response", 202 * time.Millisecond, false,
			cat(segBytes(synthConv, cmdAck, 0, 32, 1200, 0, 1, nil), segBytes(synthConv, cmdPush, 0, 32, 7, 0, 1, []byte("hello"))), "", "2", "0.002000000"},
		{"a PUSH of sn 0 on another conv", 203 * time.Millisecond, false, segBytes(synthConv+1, cmdPush, 0, 32, 8, 0, 0, []byte("x")), "", "", ""},
		{"the client's ACK of the response", 302 * time.Millisecond, true, segBytes(synthConv, cmdAck, 0, 32, 7, 0, 1, nil), "", "4", "0.100000000"},
		{"an ACK of an sn never sent", 303 * time.Millisecond, true, segBytes(synthConv, cmdAck, 0, 32, 7, 9, 1, nil), "", "", ""},
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
	analysis := func(extra ...string) []string {
		args := append([]string{"-X", "lua_script:" + luaScript(t), "-o", portsPref(srv.Port())}, extra...)
		out := runTshark(t, append(args, "-r", path, "-T", "fields", "-E", "occurrence=a", "-E", "separator=/t",
			"-e", "frame.number", "-e", "kcp.analysis.retransmission", "-e", "kcp.analysis.acks_frame",
			"-e", "kcp.analysis.ack_rtt")...)
		lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
		require.Len(t, lines, len(tests), out)
		return lines
	}
	lines, off := analysis(), analysis("-o", "kcp.analyze:FALSE")
	assert.Equal(t, lines, analysis("-2"), "a second pass reads what the first recorded")
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := strings.Split(lines[i], "\t")
			require.Len(t, col, 4, lines[i])
			assert.Equal(t, []string{tt.retrans, tt.acks, tt.rtt}, col[1:])
			assert.Equal(t, strconv.Itoa(i+1)+"\t\t\t", off[i], "with kcp.analyze off")
		})
	}
}

// TestAnalysisAgreesWithDecodeSummary: on seeded random traffic (PUSH segments that repeat sn, in
// both directions and two convs, up to three segments to a datagram, and ACKs), the dissector marks as many
// retransmissions as `kcplab decode -summary` counts PUSH segments sent again: two implementations of
// one definition.
func TestAnalysisAgreesWithDecodeSummary(t *testing.T) {
	requireTshark(t)
	t.Parallel()
	cli, srv := netip.MustParseAddrPort("127.0.0.1:40000"), netip.MustParseAddrPort("127.0.0.1:8080")
	r := rand.New(rand.NewPCG(15, 2026))
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var dgs []capture.Datagram
	for i := range 400 {
		// one conv a datagram, its ACKs before its PUSHes: a kcp-go flush, which decode calls KCP
		conv := synthConv + uint32(r.IntN(2))
		var acks, pushes []byte
		for range 1 + r.IntN(3) {
			if r.IntN(3) == 0 {
				acks = append(acks, segBytes(conv, cmdAck, 0, 32, uint32(r.IntN(500)), uint32(r.IntN(40)), 0, nil)...)
			} else {
				pushes = append(pushes, segBytes(conv, cmdPush, 0, 32, uint32(i), uint32(r.IntN(40)), 0, []byte("x"))...)
			}
		}
		payload := append(acks, pushes...)
		d := capture.Datagram{Time: t0.Add(time.Duration(i) * time.Millisecond), Src: cli, Dst: srv, Payload: payload, Side: dir.C2S}
		if r.IntN(2) == 0 {
			d.Src, d.Dst, d.Side = srv, cli, dir.S2C
		}
		dgs = append(dgs, d)
	}
	path := writeCapture(t, "random", dgs)

	out := runTshark(t, "-X", "lua_script:"+luaScript(t), "-o", portsPref(srv.Port()), "-r", path, "-T", "fields",
		"-E", "occurrence=a", "-E", "aggregator=,", "-e", "kcp.analysis.retransmission")
	marked := 0
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line != "" {
			marked += len(strings.Split(line, ","))
		}
	}

	var summary bytes.Buffer
	dc := decode.New(&summary, decode.Options{JSON: true, Summary: true})
	require.NoError(t, dc.File(path))
	require.NoError(t, dc.Flush())
	sentAgain := 0
	for _, line := range strings.Split(strings.TrimSpace(summary.String()), "\n") {
		var c struct {
			AToB struct {
				SentAgain int `json:"sent_again"`
			} `json:"a_to_b"`
			BToA struct {
				SentAgain int `json:"sent_again"`
			} `json:"b_to_a"`
		}
		require.NoError(t, json.Unmarshal([]byte(line), &c), line)
		sentAgain += c.AToB.SentAgain + c.BToA.SentAgain
	}
	require.Positive(t, sentAgain, "the traffic must repeat some sn")
	assert.Equal(t, sentAgain, marked, "retransmissions: decode -summary against kcp.lua")
}
