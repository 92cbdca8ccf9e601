package kcpseq

import (
	"testing"
	"time"

	"kcplab/kcpwire"
)

// FuzzAnalysis feeds the analysis a two-sided exchange made from the fuzzer's bytes, four
// to a segment: byte 0 says the side (bit 0), whether the segment starts a new datagram (bit 1), its
// cmd (bits 2-3) and conv (bit 4, conv 7 or 8); byte 1 its sn and byte 2 its ts, both small so that
// they repeat; byte 3 how many ms pass before it. Every segment's mark must equal what a plain
// search over all the transmissions so far gives (oracle), and the flows' counts must add up.
func FuzzAnalysis(f *testing.F) {
	f.Add([]byte{0b00010, 0, 1, 0, 0b00010, 0, 2, 200, 0b00111, 0, 1, 1}) // a PUSH, sent again, ACKed by its first ts
	f.Add([]byte{0b00010, 3, 9, 0, 0b00000, 4, 9, 0, 0b00111, 3, 9, 5, 0b00101, 4, 8, 0})
	f.Add([]byte{0b10010, 1, 1, 0, 0b00010, 1, 1, 0, 0b10111, 1, 1, 3, 0b01011, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4*2000 {
			return
		}
		var (
			a      Analysis
			dg     []kcpwire.Segment
			side   int
			now    time.Duration
			frame  int
			sent   []oracleTx
			resent int
			spur   int
		)
		flush := func() {
			if len(dg) == 0 {
				return
			}
			frame++
			src, dst := cli, srv
			if side == 1 {
				src, dst = srv, cli
			}
			marks := a.Add(frame, now, src, dst, dg)
			if len(marks) != len(dg) {
				t.Fatalf("frame %d: %d marks for %d segments", frame, len(marks), len(dg))
			}
			for i := range dg {
				want := oracleMark(&sent, side, frame, now, &dg[i])
				if marks[i] != want {
					t.Fatalf("frame %d segment %d (%+v): mark %+v, the oracle says %+v", frame, i, dg[i], marks[i], want)
				}
				if want.FirstFrame > 0 {
					resent++
				}
				spur += want.Spurious
			}
			dg = dg[:0]
		}
		for b := data; len(b) >= 4; b = b[4:] {
			s := int(b[0] & 1)
			if b[0]&2 != 0 || s != side {
				flush()
				side = s
			}
			now += time.Duration(b[3]) * time.Millisecond
			dg = append(dg, kcpwire.Segment{Conv: 7 + uint32(b[0]>>4&1), Cmd: kcpwire.CmdPush + kcpwire.Cmd(b[0]>>2&3),
				Sn: uint32(b[1] % 16), Ts: uint32(b[2] % 8)})
		}
		flush()
		gotResent, gotSpur := 0, 0
		for _, c := range a.Conversations {
			for d := range c.Dirs {
				gotResent += c.Dirs[d].Resent()
				gotSpur += c.Dirs[d].Spurious
			}
		}
		if gotResent != resent || gotSpur != spur {
			t.Fatalf("summary: %d sent again, %d spurious; the marks: %d, %d", gotResent, gotSpur, resent, spur)
		}
	})
}

// oracleTx is one PUSH transmission for oracleMark.
type oracleTx struct {
	side, frame int
	t           time.Duration
	conv, sn    uint32
	ts          uint32
	acked       bool // an ACK echoed its ts: it arrived
	spurious    bool
}

// oracleMark is the mark of seg, sent by side in frame at t, by a plain search of every transmission
// so far (sent, to which it adds a PUSH): a PUSH names the frame of the first transmission of its sn
// by the same side and conv, and is spurious when one of those arrived; an ACK names the latest
// transmission of the other side with its conv, sn and ts, which arrived, and flags the later
// transmissions of that sn not flagged yet.
func oracleMark(sent *[]oracleTx, side, frame int, t time.Duration, seg *kcpwire.Segment) Mark {
	var m Mark
	switch seg.Cmd {
	case kcpwire.CmdPush:
		for _, tx := range *sent {
			if tx.side == side && tx.conv == seg.Conv && tx.sn == seg.Sn {
				if m.FirstFrame == 0 {
					m.FirstFrame = tx.frame
				}
				if tx.acked {
					m.Spurious = 1
				}
			}
		}
		*sent = append(*sent, oracleTx{side: side, frame: frame, t: t, conv: seg.Conv, sn: seg.Sn, ts: seg.Ts, spurious: m.Spurious == 1})
	case kcpwire.CmdAck:
		acked := -1
		for i, tx := range *sent {
			if tx.side != side && tx.conv == seg.Conv && tx.sn == seg.Sn && tx.ts == seg.Ts {
				acked = i
			}
		}
		if acked < 0 {
			return m
		}
		(*sent)[acked].acked = true
		tx := (*sent)[acked]
		m.AcksFrame, m.AckDelay = tx.frame, t-tx.t
		for i := acked + 1; i < len(*sent); i++ {
			later := &(*sent)[i]
			if later.side == tx.side && later.conv == tx.conv && later.sn == tx.sn && !later.spurious {
				later.spurious = true
				m.Spurious++
			}
		}
	}
	return m
}
