// Package kcpseq is KCP's sequence analysis, as Wireshark's is TCP's: fed the segments of a capture
// or a link in the order they were sent, it keeps per conversation (a conv between two endpoints)
// and direction what was sent, and marks each segment:
//
//   - a PUSH whose sn its direction sent before names the frame that first sent it (a retransmission);
//   - an ACK names the PUSH transmission it acknowledges, by sn and by the ts it echoes (kcp-go and
//     ikcp copy the PUSH's ts into its ACK), and the time since; when no transmission in the input
//     carried that ts (the capture began later, or cut that segment off), it names none;
//   - a copy of an sn sent after a copy that an ACK acknowledged is spurious: sent again although
//     the earlier copy had arrived (the Eifel detection of RFC 3522, with KCP's echoed ts in place of
//     TCP's timestamps). An ACK counts the spurious copies sent before it; a copy sent after such an
//     ACK (it was still on its way back) is marked spurious itself. Each copy is counted once. The
//     count is a lower bound: kcp-go sends, of the ACKs one flush holds, only those of out-of-order
//     segments and the last (kcp.go's flush), so a copy acknowledged by una alone is not shown.
//
// `kcplab decode` prints the marks and a summary per conversation, and the claims count KCP's
// retransmissions on the link with it (claims/retrans.go). The Wireshark dissector
// (wireshark/kcp.lua) implements the same rules, and a test holds the two to the same marks.
package kcpseq

import (
	"net/netip"
	"time"

	"kcplab/kcpwire"
)

// Mark is what the analysis says of one segment.
type Mark struct {
	FirstFrame int           // a PUSH whose sn was sent before: the frame that first sent it; else 0
	AcksFrame  int           // an ACK: the frame of the PUSH transmission it acknowledges; 0 when none in the input
	AckDelay   time.Duration // an ACK with AcksFrame: the time since that transmission
	// Spurious, on an ACK: how many copies of that sn, sent after the one it acknowledges, it newly
	// showed spurious; on a PUSH: 1 when an ACK already showed an earlier copy arrived.
	Spurious int
}

// Conversation is what the input showed of one conversation; Dirs[0] is from A (the sender of the
// first segment seen) to B, Dirs[1] from B to A.
type Conversation struct {
	Conv                  uint32
	A, B                  netip.AddrPort
	FirstFrame, LastFrame int
	First, Last           time.Duration
	Dirs                  [2]Flow
}

// Flow is one direction of a conversation.
type Flow struct {
	Cmds      [4]int   // segments by command: PUSH, ACK, WASK, WINS
	PushBytes uint64   // data bytes of the PUSH segments, repeats included
	Order     []uint32 // PUSH sn in the order first sent
	Una       uint32   // the highest una this side sent (sn order)
	HaveUna   bool     // Una was set: this side sent a segment
	// AckDelays are the delays from this side's PUSH transmissions to the other side's ACKs of them, ms.
	AckDelays []float64
	Spurious  int // PUSH segments sent again after a copy that arrived (an ACK echoed its ts)

	sent  map[uint32]pushes // each PUSH sn's transmissions
	acked map[uint32]bool   // sn this side ACKed
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
	first   transmission
	again   []transmission
	arrived bool // an ACK acknowledged a copy: every copy sent after it is spurious
}

// convKey identifies a conversation: its conv and its two endpoints, in address order.
type convKey struct {
	conv   uint32
	lo, hi netip.AddrPort
}

// Analysis collects the conversations of one input. Its zero value is ready to use.
type Analysis struct {
	convs map[convKey]*Conversation
	// Conversations are in the order first seen.
	Conversations []*Conversation
	marks         []Mark
	// lastKey and last are the conversation of the segment last added: most segments are of the
	// same conversation as the one before, so Add looks up the map only when it changes.
	lastKey convKey
	last    *Conversation
}

// Reset empties a for a new input, keeping its buffers.
func (a *Analysis) Reset() { *a = Analysis{marks: a.marks[:0]} }

// before reports whether sn x comes before y in KCP's wrapping sn order.
func before(x, y uint32) bool { return int32(x-y) < 0 }

// Add records segs, the segments of one datagram sent from src to dst in frame at t (frames and
// times must not decrease), and returns their marks, by index; the slice is valid until the next
// Add.
func (a *Analysis) Add(frame int, t time.Duration, src, dst netip.AddrPort, segs []kcpwire.Segment) []Mark {
	a.marks = a.marks[:0]
	if a.convs == nil {
		a.convs = map[convKey]*Conversation{}
	}
	for i := range segs {
		seg := &segs[i]
		k := convKey{conv: seg.Conv, lo: src, hi: dst}
		if src.Compare(dst) > 0 {
			k.lo, k.hi = dst, src
		}
		c := a.last
		if c == nil || k != a.lastKey {
			c = a.convs[k]
		}
		if c == nil {
			c = &Conversation{Conv: seg.Conv, A: src, B: dst, FirstFrame: frame, First: t}
			a.convs[k] = c
			a.Conversations = append(a.Conversations, c)
		}
		a.lastKey, a.last = k, c
		c.LastFrame, c.Last = frame, t
		f, other := &c.Dirs[0], &c.Dirs[1]
		if src != c.A {
			f, other = other, f
		}
		var m Mark
		m.FirstFrame, m.Spurious = f.add(seg, frame, t)
		if seg.Cmd == kcpwire.CmdAck {
			if tx, spurious, ok := other.acknowledged(seg, t); ok {
				m.AcksFrame, m.AckDelay, m.Spurious = tx.frame, t-tx.t, spurious
			}
		}
		a.marks = append(a.marks, m)
	}
	return a.marks
}

// add records one segment sent in this direction in frame at t. For a PUSH whose sn was sent before it
// returns the frame that first sent it (else 0), and 1 when an ACK already showed an earlier copy
// arrived (the PUSH is spurious).
func (f *Flow) add(seg *kcpwire.Segment, frame int, t time.Duration) (firstFrame, spurious int) {
	if seg.Cmd.Valid() {
		f.Cmds[seg.Cmd-kcpwire.CmdPush]++
	}
	if !f.HaveUna || before(f.Una, seg.Una) {
		f.Una, f.HaveUna = seg.Una, true
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
			if p.arrived {
				tx.spurious, spurious = true, 1
				f.Spurious++
			}
			p.again = append(p.again, tx)
			f.sent[seg.Sn] = p
		} else {
			f.Order = append(f.Order, seg.Sn)
			f.sent[seg.Sn] = pushes{first: tx}
		}
		f.PushBytes += uint64(seg.Len)
	}
	return firstFrame, spurious
}

// acknowledged records the delay to ack, sent by the other side at t, from the transmission of this
// side's PUSH it acknowledges, and the transmissions it showed spurious, and returns that
// transmission (the latest whose ts it echoes) and how many it showed spurious. An ACK of an sn or
// ts never seen sent counts nothing, and returns false.
func (f *Flow) acknowledged(ack *kcpwire.Segment, t time.Duration) (sent transmission, spurious int, ok bool) {
	p, ok := f.sent[ack.Sn]
	if !ok {
		return transmission{}, 0, false
	}
	arrived := p.arrived
	if sent, spurious, ok = p.acknowledged(ack.Ts); !ok {
		return transmission{}, 0, false
	}
	if !arrived { // p is a copy: store the flag (the copies' flags live in the shared array)
		f.sent[ack.Sn] = p
	}
	f.AckDelays = append(f.AckDelays, float64(t-sent.t)/float64(time.Millisecond))
	f.Spurious += spurious
	return sent, spurious, true
}

// acknowledged returns the transmission an ACK echoing ts acknowledges: the latest that carried ts,
// or false when none did. That copy arrived, so the ones sent after it were spurious; it flags them,
// and returns how many it newly flagged.
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
	p.arrived = true
	for j := i; j < len(p.again); j++ { // again[j] is sent after the one acknowledged
		if !p.again[j].spurious {
			p.again[j].spurious = true // p.again shares the map value's array
			spurious++
		}
	}
	return sent, spurious, true
}

// SnRange returns the lowest and highest PUSH sn of f in sn order (false when f sent no PUSH).
func (f *Flow) SnRange() (lo, hi uint32, ok bool) {
	if len(f.Order) == 0 {
		return 0, 0, false
	}
	lo, hi = f.Order[0], f.Order[0]
	for _, sn := range f.Order[1:] {
		if before(sn, lo) {
			lo = sn
		}
		if before(hi, sn) {
			hi = sn
		}
	}
	return lo, hi, true
}

// Resent is how many PUSH segments repeated an sn already sent.
func (f *Flow) Resent() int {
	n := 0
	for _, p := range f.sent {
		n += len(p.again)
	}
	return n
}

// Sent is how many times f sent the PUSH sn.
func (f *Flow) Sent(sn uint32) int {
	p, ok := f.sent[sn]
	if !ok {
		return 0
	}
	return 1 + len(p.again)
}

// Unacknowledged returns the PUSH sn of f, in the order first sent, that other (the reverse
// direction) neither ACKed nor passed with its una.
func (f *Flow) Unacknowledged(other *Flow) []uint32 {
	var out []uint32
	for _, sn := range f.Order {
		if other.acked[sn] || other.HaveUna && before(sn, other.Una) {
			continue
		}
		out = append(out, sn)
	}
	return out
}
