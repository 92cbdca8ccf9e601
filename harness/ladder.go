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

// onTime reports whether something expected at want (± tol) happened at got. It may be late by more
// than tol only by the time the process was measurably stalled between want-tol and got: a timer due in
// a stall fires when the stall ends, whatever the protocol does. With fromStart (a step timed from the
// trial's start, i.e. by the client session's update ticks), a stall over the start counts too: the
// first tick is due at the start, and kcp-go schedules each tick one interval after the previous one
// ran (sess.go, update: "self-synchronized timed scheduling"), so that stall delays every later tick.
// The second result is the stall counted.
func onTime(want, got, tol time.Duration, stalls Stalls, fromStart bool) (bool, time.Duration) {
	switch {
	case got < want-tol:
		return false, 0
	case got <= want+tol:
		return true, 0
	}
	stalled := stalls.Within(want-tol, got)
	if fromStart {
		stalled += min(stalls.LateAt(0), max(want-tol, 0))
	}
	return got <= want+tol+stalled, stalled
}

// stallNote says how much stall a late verdict already allowed for.
func stallNote(stalled time.Duration) string {
	if stalled <= 0 {
		return ""
	}
	return fmt.Sprintf(" (late by more than the %.1fms stall allowed)", ms(stalled))
}

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
func (s Step) match(seg Seg, prev time.Duration, stalls Stalls) error {
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
		want, what := prev+s.Gap, "gap"
		if s.Abs {
			want, what = s.Gap, "at"
		}
		if ok, stalled := onTime(want, seg.Time, Tolerance(s.Gap), stalls, s.Abs); !ok {
			got := seg.Time - prev
			if s.Abs {
				got = seg.Time
			}
			bad = append(bad, fmt.Sprintf("%s %.1fms%s", what, ms(got), stallNote(stalled)))
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
// A timed step may be late by as much as the process was stalled around it (see onTime); stalls is nil
// when nothing stalled.
func (l Ladder) Match(segs []Seg, stalls Stalls) error {
	ok := len(segs) == len(l)
	reasons := make([]string, max(len(l), len(segs)))
	for i := range min(len(l), len(segs)) {
		prev := segs[0].Time
		if i > 0 {
			prev = segs[i-1].Time
		}
		if err := l[i].match(segs[i], prev, stalls); err != nil {
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
