package decode

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"kcplab/internal/quantile"
	"kcplab/kcpwire"
)

// A summary (`kcplab decode -summary`) answers "why did my last message never arrive?" from a capture:
// one block per KCP conversation (a conv between two endpoints), and for each direction what was
// sent (segments by command, PUSH data, PUSH sent again) and which PUSH sn the other side never
// acknowledged in the capture: no ACK of that sn, and no una past it. An ACK names the PUSH it
// acknowledges by sn and by the ts it echoes (kcp-go and ikcp copy the PUSH's ts into its ACK), so
// the delay from each PUSH transmission to its ACK ("acknowledged after") is exact even when the PUSH
// was sent again, and an ACK of a copy sent before others shows those others spurious: sent again
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

// convKey identifies a conversation: its conv and its two endpoints, in address order.
type convKey struct {
	conv   uint32
	lo, hi netip.AddrPort
}

// conversation is what a capture showed of one conversation; dirs[0] is from a (the sender of the
// first segment seen) to b, dirs[1] from b to a.
type conversation struct {
	conv                  uint32
	a, b                  netip.AddrPort
	firstFrame, lastFrame int
	first, last           time.Duration
	dirs                  [2]flow
}

// flow is one direction of a conversation.
type flow struct {
	cmds      [4]int // segments by command: PUSH, ACK, WASK, WINS
	pushBytes uint64 // data bytes of the PUSH segments, repeats included
	// sent holds each PUSH sn's transmissions.
	sent    map[uint32]pushes
	order   []uint32        // PUSH sn in the order first sent
	acked   map[uint32]bool // sn this side ACKed
	una     uint32          // the highest una this side sent (sn order)
	haveUna bool            // una was set: this side sent a segment
	// ackDelays are the delays from this side's PUSH transmissions to the other side's ACKs of them, ms.
	ackDelays []float64
	spurious  int // PUSH segments sent again that an ACK showed spurious (see pushes.acknowledged)
}

// transmission is one PUSH of an sn: its frame, when it was sent, its ts, and, for one sent again,
// whether an ACK showed it spurious.
type transmission struct {
	frame    int
	t        time.Duration
	ts       uint32
	spurious bool
}

// pushes are the transmissions of one PUSH sn, in the order sent: the first kept in place, as most
// sn are sent once, so that recording one allocates nothing beyond the map's growth.
type pushes struct {
	first transmission
	again []transmission
}

// count is how many times the sn was sent.
func (p *pushes) count() int { return 1 + len(p.again) }

// acknowledged returns the transmission an ACK echoing ts acknowledges: the latest that carried ts.
// When none did, the capture missed the one acknowledged (its start, or a segment cut by the snap
// length), and it returns false rather than guess. An ACK that echoes the ts of a transmission sent
// before others shows that transmission arrived, so the ones sent after it were spurious (needless),
// as the Eifel detection of RFC 3522 tells with TCP timestamps; it returns how many it newly showed
// so.
func (p *pushes) acknowledged(ts uint32) (sent transmission, spurious int, ok bool) {
	i := len(p.again) // the index of the transmission acknowledged: 0 the first, i the i-th sent again
	for i > 0 && p.again[i-1].ts != ts {
		i--
	}
	switch {
	case i > 0:
		sent = p.again[i-1]
	case p.first.ts == ts:
		sent = p.first
	default:
		return transmission{}, 0, false
	}
	for j := i; j < len(p.again); j++ { // again[j] is sent after the one acknowledged
		if !p.again[j].spurious {
			p.again[j].spurious = true // p.again shares the map value's array
			spurious++
		}
	}
	return sent, spurious, true
}

// mark is what the sequence analysis says of one segment in decode's per-segment output, as the
// Wireshark dissector's kcp.analysis fields do.
type mark struct {
	firstFrame int           // a PUSH whose sn was sent before: the frame that first sent it; else 0
	acksFrame  int           // an ACK: the frame of the PUSH transmission it acknowledges; 0 when none in the capture
	ackDelay   time.Duration // an ACK with acksFrame: the time since that transmission
	spurious   int           // an ACK: how many transmissions of that sn it newly showed spurious
}

// summary collects the conversations of one file.
type summary struct {
	convs     map[convKey]*conversation
	order     []*conversation
	undecoded int    // datagrams shown with no segment
	marks     []mark // the marks of the segments of the datagram last added, by index
	// lastKey and last are the conversation of the segment last added: most segments are of the
	// same conversation as the one before, so add looks up the map only when it changes.
	lastKey convKey
	last    *conversation
}

// reset empties s for a new file.
func (s *summary) reset() { *s = summary{convs: map[convKey]*conversation{}, marks: s.marks[:0]} }

// before reports whether sn x comes before y in KCP's wrapping sn order.
func before(x, y uint32) bool { return int32(x-y) < 0 }

// add records the segments of the datagram d, sent from src to dst in frame at t, and sets s.marks
// to their marks.
func (s *summary) add(frame int, t time.Duration, src, dst netip.AddrPort, d *kcpwire.Datagram) {
	s.marks = s.marks[:0]
	if len(d.Segments) == 0 {
		s.undecoded++
		return
	}
	for i := range d.Segments {
		seg := &d.Segments[i]
		k := convKey{conv: seg.Conv, lo: src, hi: dst}
		if src.Compare(dst) > 0 {
			k.lo, k.hi = dst, src
		}
		c := s.last
		if c == nil || k != s.lastKey {
			c = s.convs[k]
		}
		if c == nil {
			c = &conversation{conv: seg.Conv, a: src, b: dst, firstFrame: frame, first: t}
			s.convs[k] = c
			s.order = append(s.order, c)
		}
		s.lastKey, s.last = k, c
		c.lastFrame, c.last = frame, t
		f, other := &c.dirs[0], &c.dirs[1]
		if src != c.a {
			f, other = other, f
		}
		var m mark
		m.firstFrame = f.add(seg, frame, t)
		if seg.Cmd == kcpwire.CmdAck {
			if tx, spurious, ok := other.acknowledged(seg, t); ok {
				m.acksFrame, m.ackDelay, m.spurious = tx.frame, t-tx.t, spurious
			}
		}
		s.marks = append(s.marks, m)
	}
}

// add records one segment sent in this direction in frame at t. For a PUSH whose sn was sent before it
// returns the frame that first sent it, else 0.
func (f *flow) add(seg *kcpwire.Segment, frame int, t time.Duration) (firstFrame int) {
	if seg.Cmd.Valid() {
		f.cmds[seg.Cmd-kcpwire.CmdPush]++
	}
	if !f.haveUna || before(f.una, seg.Una) {
		f.una, f.haveUna = seg.Una, true
	}
	switch seg.Cmd {
	case kcpwire.CmdAck:
		if f.acked == nil {
			f.acked = map[uint32]bool{}
		}
		f.acked[seg.Sn] = true
	case kcpwire.CmdPush:
		if f.sent == nil {
			f.sent = map[uint32]pushes{}
		}
		tx := transmission{frame: frame, t: t, ts: seg.Ts}
		if p, ok := f.sent[seg.Sn]; ok {
			firstFrame = p.first.frame
			p.again = append(p.again, tx)
			f.sent[seg.Sn] = p
		} else {
			f.order = append(f.order, seg.Sn)
			f.sent[seg.Sn] = pushes{first: tx}
		}
		f.pushBytes += uint64(seg.Len)
	}
	return firstFrame
}

// snRange returns the lowest and highest PUSH sn of f in sn order (f sent at least one PUSH).
func (f *flow) snRange() (lo, hi uint32) {
	lo, hi = f.order[0], f.order[0]
	for _, sn := range f.order[1:] {
		if before(sn, lo) {
			lo = sn
		}
		if before(hi, sn) {
			hi = sn
		}
	}
	return lo, hi
}

// acknowledged records the delay to ack, sent by the other side at t, from the transmission of this
// side's PUSH it acknowledges, and the transmissions it showed spurious, and returns that
// transmission (the latest whose ts it echoes) and how many it showed spurious. An ACK of an sn or
// ts never seen sent counts nothing, and returns false.
func (f *flow) acknowledged(ack *kcpwire.Segment, t time.Duration) (sent transmission, spurious int, ok bool) {
	p, ok := f.sent[ack.Sn]
	if !ok {
		return transmission{}, 0, false
	}
	if sent, spurious, ok = p.acknowledged(ack.Ts); !ok {
		return transmission{}, 0, false
	}
	f.ackDelays = append(f.ackDelays, float64(t-sent.t)/float64(time.Millisecond))
	f.spurious += spurious
	return sent, spurious, true
}

// unacknowledged returns the PUSH sn of f, in the order first sent, that other (the reverse
// direction) neither ACKed nor passed with its una.
func (f *flow) unacknowledged(other *flow) []uint32 {
	var out []uint32
	for _, sn := range f.order {
		if other.acked[sn] || other.haveUna && before(sn, other.una) {
			continue
		}
		out = append(out, sn)
	}
	return out
}

// resent is how many PUSH segments repeated an sn already sent.
func (f *flow) resent() int {
	n := 0
	for _, p := range f.sent {
		n += len(p.again)
	}
	return n
}

// appendText appends the summary's text lines.
func (s *summary) appendText(b []byte) []byte {
	for _, c := range s.order {
		b = fmt.Appendf(b, "conv %d  %s ⇄ %s  frames %d-%d  ", c.conv, c.a, c.b, c.firstFrame, c.lastFrame)
		b = appendSeconds(b, c.first)
		b = append(b, '-')
		b = appendSeconds(b, c.last)
		b = append(b, " s\n"...)
		b = c.dirs[0].appendText(b, c.a, c.b, &c.dirs[1])
		b = c.dirs[1].appendText(b, c.b, c.a, &c.dirs[0])
	}
	if s.undecoded > 0 {
		b = fmt.Appendf(b, "%d datagrams with no KCP segment decoded (encrypted, FEC parity, or not KCP)\n", s.undecoded)
	}
	return b
}

// appendText appends the lines of direction f, from src to dst; other is the reverse direction.
func (f *flow) appendText(b []byte, src, dst netip.AddrPort, other *flow) []byte {
	return f.appendAckDelays(f.appendCounts(b, src, dst, other))
}

// appendAckDelays appends the line of the delays to the ACKs of f's PUSH segments, if any.
func (f *flow) appendAckDelays(b []byte) []byte {
	d := f.ackDelayStats()
	switch {
	case d == nil:
		return b
	case d.N == 1:
		return fmt.Appendf(b, "    acknowledged after: %.3f ms (1 ACK)\n", d.Median)
	}
	return fmt.Appendf(b, "    acknowledged after: min %.3f, median %.3f, max %.3f ms (%d ACKs)\n", d.Min, d.Median, d.Max, d.N)
}

// ackDelayStats are the delays from f's PUSH transmissions to their ACKs, nil when none was ACKed.
func (f *flow) ackDelayStats() *delayStats {
	if len(f.ackDelays) == 0 {
		return nil
	}
	sorted := slices.Sorted(slices.Values(f.ackDelays))
	return &delayStats{N: len(sorted), Min: sorted[0], Median: quantile.Of(sorted, 0.5), Max: sorted[len(sorted)-1]}
}

// appendCounts appends the line of f's counts and of what other never acknowledged.
func (f *flow) appendCounts(b []byte, src, dst netip.AddrPort, other *flow) []byte {
	b = fmt.Appendf(b, "  %s → %s  PUSH %d", src, dst, f.cmds[0])
	if f.cmds[0] > 0 {
		lo, hi := f.snRange()
		b = fmt.Appendf(b, " (sn %d-%d, %d bytes, %d sent again", lo, hi, f.pushBytes, f.resent())
		if f.spurious > 0 {
			b = fmt.Appendf(b, ", %d spurious", f.spurious)
		}
		b = append(b, ')')
	}
	b = fmt.Appendf(b, "  ACK %d  WASK %d  WINS %d  never acknowledged: ", f.cmds[1], f.cmds[2], f.cmds[3])
	un := f.unacknowledged(other)
	if len(un) == 0 {
		return append(b, "none\n"...)
	}
	for i, sn := range un[:min(len(un), maxListed)] {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, "sn "...)
		b = strconv.AppendUint(b, uint64(sn), 10)
		if p := f.sent[sn]; len(p.again) > 0 {
			b = fmt.Appendf(b, " (sent %d×)", p.count())
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
	for _, c := range s.order {
		jc := jsonConversation{File: file, Conv: c.conv, A: c.a.String(), B: c.b.String(),
			FirstFrame: c.firstFrame, LastFrame: c.lastFrame, First: c.first.Seconds(), Last: c.last.Seconds(),
			AToB: c.dirs[0].json(&c.dirs[1]), BToA: c.dirs[1].json(&c.dirs[0])}
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

// json is f as a jsonFlow; other is the reverse direction.
func (f *flow) json(other *flow) jsonFlow {
	j := jsonFlow{Push: f.cmds[0], Ack: f.cmds[1], Wask: f.cmds[2], Wins: f.cmds[3], PushBytes: f.pushBytes,
		SentAgain: f.resent(), Spurious: f.spurious, Unacknowledged: f.unacknowledged(other), AckDelayMs: f.ackDelayStats()}
	if j.Unacknowledged == nil {
		j.Unacknowledged = []uint32{}
	}
	if f.cmds[0] > 0 {
		lo, hi := f.snRange()
		j.SnFirst, j.SnLast = &lo, &hi
	}
	return j
}
