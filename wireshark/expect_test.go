package wireshark

import (
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"kcplab/capture"
	"kcplab/kcpwire"
)

// expectFrames decodes every datagram with kcpwire and returns what the dissector should
// print for it when configured with framing f, its sequence analysis on.
func expectFrames(dgs []capture.Datagram, f kcpwire.Framing) []frame {
	out := make([]frame, len(dgs))
	sent := map[pushed]bool{}
	for i, dg := range dgs {
		out[i] = expectFrame(i+1, dg.Payload, f, func(s *kcpwire.Segment) bool {
			k := pushed{dg.Src.String(), dg.Dst.String(), s.Conv, s.Sn}
			again := sent[k]
			sent[k] = true
			return again
		})
	}
	return out
}

// pushed names a PUSH sn of one conv and direction, for the Info column's "[Retransmission]".
type pushed struct {
	src, dst string
	conv, sn uint32
}

// expectFrame is expectFrames for one payload; again reports whether a PUSH segment's sn was sent
// before (and records it).
func expectFrame(number int, payload []byte, f kcpwire.Framing, again func(*kcpwire.Segment) bool) frame {
	fr := frame{Number: number}
	if len(payload) == 0 {
		return fr // UDP hands an empty payload to no dissector
	}
	if f == kcpwire.FramingAuto { // on kcp.ports the dissector's auto falls back to encrypted
		f = kcpwire.GuessOnPort(payload)
	}
	var d kcpwire.Datagram
	if err := d.Decode(payload, f); err != nil {
		fr.Malformed = true
		return fr
	}
	fr.Framing = d.Framing.String()
	for _, s := range d.Segments {
		fr.Segments = append(fr.Segments, seg{
			Conv: s.Conv, Cmd: uint8(s.Cmd), Frg: s.Frg, Wnd: s.Wnd, Ts: s.Ts, Sn: s.Sn, Una: s.Una,
			Len: s.Len, Data: hex.EncodeToString(s.Data),
		})
	}
	if d.Framing == kcpwire.FramingFEC {
		fr.FEC = &fecHdr{SeqID: d.FEC.SeqID, Type: uint16(d.FEC.Type), Size: d.FEC.Size}
		if conv, ok := d.OOBConv(); ok {
			fr.OOBConv = &conv
			fr.OOBData = hex.EncodeToString(d.Opaque[4:])
		}
	}
	fr.Info = expectInfo(&d, len(payload), again)
	return fr
}

// expectInfo is the Info column the dissector should write for a decoded datagram.
func expectInfo(d *kcpwire.Datagram, n int, again func(*kcpwire.Segment) bool) string {
	switch d.Framing {
	case kcpwire.FramingEncrypted:
		return fmt.Sprintf("encrypted (%d bytes)", n)
	case kcpwire.FramingFEC:
		switch d.FEC.Type {
		case kcpwire.ShardData:
			return fmt.Sprintf("FEC data seq=%d: %s", d.FEC.SeqID, segmentsInfo(d.Segments, again))
		case kcpwire.ShardParity:
			return fmt.Sprintf("FEC parity seq=%d", d.FEC.SeqID)
		default:
			return fmt.Sprintf("FEC oob (%d bytes)", len(d.Opaque)-4)
		}
	}
	return segmentsInfo(d.Segments, again)
}

// segmentsInfo summarises segments the way the dissector's Info column does.
func segmentsInfo(segs []kcpwire.Segment, again func(*kcpwire.Segment) bool) string {
	parts := make([]string, len(segs))
	for i, s := range segs {
		switch s.Cmd {
		case kcpwire.CmdPush:
			parts[i] = fmt.Sprintf("PUSH sn=%d una=%d len=%d", s.Sn, s.Una, s.Len)
			if again(&s) {
				parts[i] = "[Retransmission] " + parts[i]
			}
			if s.Frg > 0 {
				parts[i] += fmt.Sprintf(" frg=%d", s.Frg)
			}
		case kcpwire.CmdAck:
			parts[i] = fmt.Sprintf("ACK sn=%d una=%d", s.Sn, s.Una)
		default:
			parts[i] = fmt.Sprintf("%s una=%d wnd=%d", s.Cmd, s.Una, s.Wnd)
		}
	}
	return strings.Join(parts, ", ")
}

// compareFrames checks the dissector's frames against the expected ones: every field of every
// segment for decodable frames, the malformed flag (and that KCP claimed it) for the others.
func compareFrames(t *testing.T, want, got []frame) {
	t.Helper()
	if !assert.Len(t, got, len(want), "frames") {
		return
	}
	for i := range want {
		w, g := want[i], got[i]
		if w.Malformed {
			assert.True(t, g.Malformed, "frame %d: kcpwire rejects it, the dissector does not: %+v", w.Number, g)
			assert.NotEmpty(t, g.Framing, "frame %d: malformed but not claimed as KCP", w.Number)
			continue
		}
		assert.Equal(t, w, g, "frame %d", w.Number)
	}
}
