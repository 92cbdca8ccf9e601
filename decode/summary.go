package decode

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"kcplab/internal/kcpseq"
	"kcplab/internal/quantile"
	"kcplab/kcpwire"
)

// A summary (`kcplab decode -summary`) answers "why did my last message never arrive?" from a capture:
// one block per KCP conversation (a conv between two endpoints), and for each direction what was
// sent (segments by command, PUSH data, PUSH sent again) and which PUSH sn the other side never
// acknowledged in the capture: no ACK of that sn, and no una past it. An ACK names the PUSH it
// acknowledges by sn and by the ts it echoes (kcp-go and ikcp copy the PUSH's ts into its ACK), so
// the delay from each PUSH transmission to its ACK ("acknowledged after") is exact even when the PUSH
// was sent again, and a copy sent after one that an ACK acknowledged was spurious: sent again
// although the earlier copy had arrived ("N spurious", after "sent again", when there are any).
//
//	conv 4201791992  127.0.0.1:40045 ⇄ 127.0.0.1:35209  frames 1-4  0.000000-0.095292 s
//	  127.0.0.1:40045 → 127.0.0.1:35209  PUSH 1 (sn 0-0, 54 bytes, 0 sent again)  ACK 1  WASK 0  WINS 0  never acknowledged: none
//	    acknowledged after: 0.126 ms (1 ACK)
//	  127.0.0.1:35209 → 127.0.0.1:40045  PUSH 1 (sn 0-0, 54 bytes, 0 sent again)  ACK 1  WASK 0  WINS 0  never acknowledged: none
//	    acknowledged after: 95.156 ms (1 ACK)
//
// Datagrams with no segments (encrypted, FEC parity, not KCP) are counted in a last line.
//
// The same records give the per-segment lines their sequence analysis (Options.Analyze): as each
// datagram is added, the mark of each of its segments.

// maxListed is how many never-acknowledged sn a text line lists before "and N more".
const maxListed = 8

// summary collects the conversations of one file (kcpseq), and the datagrams with no segment.
type summary struct {
	kcpseq.Analysis
	undecoded int // datagrams shown with no segment
}

// reset empties s for a new file.
func (s *summary) reset() {
	s.Analysis.Reset()
	s.undecoded = 0
}

// add records the segments of the datagram d, sent from src to dst in frame at t, and returns their
// marks (valid until the next add).
func (s *summary) add(frame int, t time.Duration, src, dst netip.AddrPort, d *kcpwire.Datagram) []kcpseq.Mark {
	if len(d.Segments) == 0 {
		s.undecoded++
	}
	return s.Add(frame, t, src, dst, d.Segments)
}

// appendText appends the summary's text lines.
func (s *summary) appendText(b []byte) []byte {
	for _, c := range s.Conversations {
		b = fmt.Appendf(b, "conv %d  %s ⇄ %s  frames %d-%d  ", c.Conv, c.A, c.B, c.FirstFrame, c.LastFrame)
		b = appendSeconds(b, c.First)
		b = append(b, '-')
		b = appendSeconds(b, c.Last)
		b = append(b, " s\n"...)
		b = appendFlow(b, &c.Dirs[0], c.A, c.B, &c.Dirs[1])
		b = appendFlow(b, &c.Dirs[1], c.B, c.A, &c.Dirs[0])
	}
	if s.undecoded > 0 {
		b = fmt.Appendf(b, "%d datagrams with no KCP segment decoded (encrypted, FEC parity, or not KCP)\n", s.undecoded)
	}
	return b
}

// appendFlow appends the lines of direction f, from src to dst; other is the reverse direction.
func appendFlow(b []byte, f *kcpseq.Flow, src, dst netip.AddrPort, other *kcpseq.Flow) []byte {
	return appendAckDelays(appendCounts(b, f, src, dst, other), f)
}

// appendAckDelays appends the line of the delays to the ACKs of f's PUSH segments, if any.
func appendAckDelays(b []byte, f *kcpseq.Flow) []byte {
	d := ackDelayStats(f)
	switch {
	case d == nil:
		return b
	case d.N == 1:
		return fmt.Appendf(b, "    acknowledged after: %.3f ms (1 ACK)\n", d.Median)
	}
	return fmt.Appendf(b, "    acknowledged after: min %.3f, median %.3f, max %.3f ms (%d ACKs)\n", d.Min, d.Median, d.Max, d.N)
}

// ackDelayStats are the delays from f's PUSH transmissions to their ACKs, nil when none was ACKed.
func ackDelayStats(f *kcpseq.Flow) *delayStats {
	if len(f.AckDelays) == 0 {
		return nil
	}
	sorted := slices.Sorted(slices.Values(f.AckDelays))
	return &delayStats{N: len(sorted), Min: sorted[0], Median: quantile.Of(sorted, 0.5), Max: sorted[len(sorted)-1]}
}

// appendCounts appends the line of f's counts and of what other never acknowledged.
func appendCounts(b []byte, f *kcpseq.Flow, src, dst netip.AddrPort, other *kcpseq.Flow) []byte {
	b = fmt.Appendf(b, "  %s → %s  PUSH %d", src, dst, f.Cmds[0])
	if lo, hi, ok := f.SnRange(); ok {
		b = fmt.Appendf(b, " (sn %d-%d, %d bytes, %d sent again", lo, hi, f.PushBytes, f.Resent())
		if f.Spurious > 0 {
			b = fmt.Appendf(b, ", %d spurious", f.Spurious)
		}
		b = append(b, ')')
	}
	b = fmt.Appendf(b, "  ACK %d  WASK %d  WINS %d  never acknowledged: ", f.Cmds[1], f.Cmds[2], f.Cmds[3])
	un := f.Unacknowledged(other)
	if len(un) == 0 {
		return append(b, "none\n"...)
	}
	for i, sn := range un[:min(len(un), maxListed)] {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, "sn "...)
		b = strconv.AppendUint(b, uint64(sn), 10)
		if n := f.Sent(sn); n > 1 {
			b = fmt.Appendf(b, " (sent %d×)", n)
		}
	}
	if len(un) > maxListed {
		b = fmt.Appendf(b, " and %d more", len(un)-maxListed)
	}
	return append(b, '\n')
}

// delayStats summarise the delays from PUSH transmissions to their ACKs, in ms (text and -json).
type delayStats struct {
	N      int     `json:"n"`
	Min    float64 `json:"min"`
	Median float64 `json:"median"`
	Max    float64 `json:"max"`
}

// jsonFlow is one direction of a conversation in -json output.
type jsonFlow struct {
	Push           int         `json:"push"`
	Ack            int         `json:"ack"`
	Wask           int         `json:"wask"`
	Wins           int         `json:"wins"`
	PushBytes      uint64      `json:"push_bytes"`
	SentAgain      int         `json:"sent_again"`
	Spurious       int         `json:"spurious"`
	SnFirst        *uint32     `json:"sn_first,omitempty"`
	SnLast         *uint32     `json:"sn_last,omitempty"`
	Unacknowledged []uint32    `json:"unacknowledged"`
	AckDelayMs     *delayStats `json:"ack_delay_ms,omitempty"`
}

// jsonConversation is one conversation in -json output.
type jsonConversation struct {
	File       string   `json:"file"`
	Conv       uint32   `json:"conv"`
	A          string   `json:"a"`
	B          string   `json:"b"`
	FirstFrame int      `json:"first_frame"`
	LastFrame  int      `json:"last_frame"`
	First      float64  `json:"first_t"`
	Last       float64  `json:"last_t"`
	AToB       jsonFlow `json:"a_to_b"`
	BToA       jsonFlow `json:"b_to_a"`
}

// appendJSON appends one JSON object per conversation, and one for the undecoded datagrams if any.
func (s *summary) appendJSON(b []byte, file string) []byte {
	for _, c := range s.Conversations {
		jc := jsonConversation{File: file, Conv: c.Conv, A: c.A.String(), B: c.B.String(),
			FirstFrame: c.FirstFrame, LastFrame: c.LastFrame, First: c.First.Seconds(), Last: c.Last.Seconds(),
			AToB: flowJSON(&c.Dirs[0], &c.Dirs[1]), BToA: flowJSON(&c.Dirs[1], &c.Dirs[0])}
		line, err := json.Marshal(jc)
		if err != nil { // plain fields only: cannot happen
			panic(err)
		}
		b = append(append(b, line...), '\n')
	}
	if s.undecoded > 0 {
		b = fmt.Appendf(b, `{"file":%s,"undecoded_datagrams":%d}`+"\n", appendJSONString(nil, file), s.undecoded)
	}
	return b
}

// flowJSON is f as a jsonFlow; other is the reverse direction.
func flowJSON(f, other *kcpseq.Flow) jsonFlow {
	j := jsonFlow{Push: f.Cmds[0], Ack: f.Cmds[1], Wask: f.Cmds[2], Wins: f.Cmds[3], PushBytes: f.PushBytes,
		SentAgain: f.Resent(), Spurious: f.Spurious, Unacknowledged: f.Unacknowledged(other), AckDelayMs: ackDelayStats(f)}
	if j.Unacknowledged == nil {
		j.Unacknowledged = []uint32{}
	}
	if lo, hi, ok := f.SnRange(); ok {
		j.SnFirst, j.SnLast = &lo, &hi
	}
	return j
}
