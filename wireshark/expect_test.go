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
	sent := map[pushed]*copies{}
	for i, dg := range dgs {
		out[i] = expectFrame(i+1, dg.Payload, f, func(s *kcpwire.Segment) string {
			switch s.Cmd {
			case kcpwire.CmdPush:
				k := pushed{dg.Src.String(), dg.Dst.String(), s.Conv, s.Sn}
				c := sent[k]
				if c == nil {
					sent[k] = &copies{ts: map[uint32]bool{s.Ts: true}}
					return ""
				}
				c.ts[s.Ts] = true
				if c.arrived {
					return "[Spurious Retransmission] "
				}
				return "[Retransmission] "
			case kcpwire.CmdAck: // an ACK echoing a copy's ts shows that copy arrived
				if c := sent[pushed{dg.Dst.String(), dg.Src.String(), s.Conv, s.Sn}]; c != nil && c.ts[s.Ts] {
					c.arrived = true
				}
			}
			return ""
		})
	}
	return out
}

// pushed names a PUSH sn of one conv and direction, for the Info column's "[Retransmission]".
type pushed struct {
	src, dst string
	conv, sn uint32
}

// copies are the transmissions of one pushed sn: their ts, and whether an ACK echoed one of them
// (then a later copy is a spurious retransmission).
type copies struct {
	ts      map[uint32]bool
	arrived bool
}

// expectFrame is expectFrames for one payload; mark sees every segment in order and returns the
// Info column's prefix for it ("[Retransmission] " on a PUSH whose sn was sent before).
func expectFrame(number int, payload []byte, f kcpwire.Framing, mark func(*kcpwire.Segment) string) frame {
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
	fr.Info = expectInfo(&d, len(payload), mark)
	return fr
}

// expectInfo is the Info column the dissector should write for a decoded datagram.
func expectInfo(d *kcpwire.Datagram, n int, mark func(*kcpwire.Segment) string) string {
	switch d.Framing {
	case kcpwire.FramingEncrypted:
		return fmt.Sprintf("encrypted (%d bytes)", n)
	case kcpwire.FramingFEC:
		switch d.FEC.Type {
		case kcpwire.ShardData:
			return fmt.Sprintf("FEC data seq=%d: %s", d.FEC.SeqID, segmentsInfo(d.Segments, mark))
		case kcpwire.ShardParity:
			return fmt.Sprintf("FEC parity seq=%d", d.FEC.SeqID)
		default:
			return fmt.Sprintf("FEC oob (%d bytes)", len(d.Opaque)-4)
		}
	}
	return segmentsInfo(d.Segments, mark)
}

// segmentsInfo summarises segments the way the dissector's Info column does.
func segmentsInfo(segs []kcpwire.Segment, mark func(*kcpwire.Segment) string) string {
	parts := make([]string, len(segs))
	for i, s := range segs {
		prefix := mark(&s)
		switch s.Cmd {
		case kcpwire.CmdPush:
			parts[i] = prefix + fmt.Sprintf("PUSH sn=%d una=%d len=%d", s.Sn, s.Una, s.Len)
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
