package harness

import (
	"fmt"
	"strings"
	"time"

	"kcplab/kcpwire"
)

// Any matches any value of a Step's numeric field.
const Any int64 = -1

// Step is one expected segment of a ladder, read top to bottom like a packetdrill script.
type Step struct {
	Dir          Dir
	Cmd          kcpwire.Cmd
	Sn, Una, Len int64         // Any matches anything
	Gap          time.Duration // expected time since the previous segment (or the first, if Abs), if Timed
	Timed        bool          // whether Gap is checked
	Abs          bool          // Gap counts from the trial's start, not from the previous segment
}

// Push expects a PUSH segment in direction d; narrow it with Sn, Una, Len and After.
func Push(d Dir) Step { return Step{Dir: d, Cmd: kcpwire.CmdPush, Sn: Any, Una: Any, Len: Any} }

// Ack expects an ACK segment in direction d (its Len is always 0).
func Ack(d Dir) Step { return Step{Dir: d, Cmd: kcpwire.CmdAck, Sn: Any, Una: Any, Len: 0} }

// WithSn expects sequence number n.
func (s Step) WithSn(n uint32) Step { s.Sn = int64(n); return s }

// WithUna expects una n.
func (s Step) WithUna(n uint32) Step { s.Una = int64(n); return s }

// WithLen expects n bytes of data.
func (s Step) WithLen(n uint32) Step { s.Len = int64(n); return s }

// After expects the segment gap after the previous one, within Tolerance(gap); After(0) means "at
// once" (within 4 ms).
func (s Step) After(gap time.Duration) Step { s.Gap, s.Timed, s.Abs = gap, true, false; return s }

// At expects the segment at time t after the trial's start (the client session had just been
// created), within Tolerance(t), like an absolute time in a packetdrill script.
func (s Step) At(t time.Duration) Step { s.Gap, s.Timed, s.Abs = t, true, true; return s }

// Tolerance is the packetdrill-style slack allowed around an expected gap: max(4 ms, 12.5% of the gap).
func Tolerance(gap time.Duration) time.Duration {
	return max(4*time.Millisecond, gap/8)
}

// String renders the step like a ladder line, e.g. "c→s PUSH sn=0 una=* len=9 (+100ms)".
func (s Step) String() string {
	f := func(v int64) string {
		if v == Any {
			return "*"
		}
		return fmt.Sprint(v)
	}
	out := fmt.Sprintf("%s %-4s sn=%s una=%s len=%s", s.Dir, s.Cmd, f(s.Sn), f(s.Una), f(s.Len))
	switch {
	case s.Timed && s.Abs:
		out += fmt.Sprintf(" (@%v±%v)", s.Gap, Tolerance(s.Gap))
	case s.Timed:
		out += fmt.Sprintf(" (+%v±%v)", s.Gap, Tolerance(s.Gap))
	}
	return out
}

// match reports why seg does not fit the step (nil when it does); prev is the previous segment's time.
func (s Step) match(seg Seg, prev time.Duration) error {
	var bad []string
	if seg.Dir != s.Dir {
		bad = append(bad, "dir")
	}
	if seg.Cmd != s.Cmd {
		bad = append(bad, "cmd")
	}
	for _, f := range []struct {
		name      string
		want, got int64
	}{{"sn", s.Sn, int64(seg.Sn)}, {"una", s.Una, int64(seg.Una)}, {"len", s.Len, int64(seg.Len)}} {
		if f.want != Any && f.want != f.got {
			bad = append(bad, f.name)
		}
	}
	if s.Timed {
		gap, what := seg.Time-prev, "gap"
		if s.Abs {
			gap, what = seg.Time, "at"
		}
		if d := gap - s.Gap; d > Tolerance(s.Gap) || -d > Tolerance(s.Gap) {
			bad = append(bad, fmt.Sprintf("%s %.1fms", what, ms(gap)))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s", strings.Join(bad, ","))
	}
	return nil
}

// Ladder is the exact sequence of segments expected on the wire.
type Ladder []Step

// Match checks segs against the ladder, step for step; the error shows expected and actual side by side.
func (l Ladder) Match(segs []Seg) error {
	ok := len(segs) == len(l)
	reasons := make([]string, max(len(l), len(segs)))
	for i := range min(len(l), len(segs)) {
		prev := segs[0].Time
		if i > 0 {
			prev = segs[i-1].Time
		}
		if err := l[i].match(segs[i], prev); err != nil {
			reasons[i] = err.Error()
			ok = false
		}
	}
	if ok {
		return nil
	}
	return &LadderMismatch{Want: l, Got: segs, Reasons: reasons}
}

// LadderMismatch is a failed Match: both ladders and, per row, what differs.
type LadderMismatch struct {
	Want    Ladder
	Got     []Seg
	Reasons []string
}

// Error prints the expected and the actual ladder side by side, marking the rows that differ.
func (m *LadderMismatch) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ladder mismatch: want %d segments, got %d\n", len(m.Want), len(m.Got))
	fmt.Fprintf(&b, "   %-48s | %s\n", "expected", "actual")
	for i := range max(len(m.Want), len(m.Got)) {
		want, got, mark := "", "", "  "
		if i < len(m.Want) {
			want = m.Want[i].String()
		}
		if i < len(m.Got) {
			got = m.Got[i].String()
		}
		if i >= len(m.Want) || i >= len(m.Got) || m.Reasons[i] != "" {
			mark = "✗ "
		}
		line := fmt.Sprintf("%s %-48s | %s", mark, want, got)
		if i < len(m.Reasons) && m.Reasons[i] != "" {
			line += "   [" + m.Reasons[i] + "]"
		}
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}
	return b.String()
}
