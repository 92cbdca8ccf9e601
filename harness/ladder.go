package harness

import (
	"fmt"
	"strings"
	"time"

	"kcplab/internal/tolerance"
	"kcplab/kcpwire"
)

// Any matches any value of a Step's numeric field.
const Any int64 = -1

// Step is one expected segment of a ladder, read top to bottom like a packetdrill script. Its
// direction, cmd, sn, una, len and window decide whether a trial's segment fits it; its time (After,
// At) does not: it is a timing expectation, judged over all the trials of the class (see timing.go).
type Step struct {
	Dir          Dir
	Cmd          kcpwire.Cmd
	Sn, Una, Len int64 // Any matches anything
	// Unread is how far the segment's wnd is below its sender's full receive window (WithUnread); Any
	// matches anything.
	Unread int64
	Gap    time.Duration // expected time since the previous segment (or the trial's start, if Abs), if Timed
	Timed  bool          // whether the step has a timing expectation
	Abs    bool          // Gap counts from the trial's start, not from the previous segment
	// Lost expects the segment to have been dropped by the link (DroppedByLink); otherwise it must
	// have crossed the wire.
	Lost bool
	// Repeated lets the step match MinN to MaxN consecutive segments (Repeat); otherwise exactly one.
	Repeated   bool
	MinN, MaxN int
}

// DroppedByLink expects the segment to have been sent but dropped by the link between the peers.
func (s Step) DroppedByLink() Step { s.Lost = true; return s }

// Repeat lets the step match from min to max consecutive segments, e.g. a request and its
// retransmissions; min 0 makes it optional. A timed repeated step is timed at its first segment.
func (s Step) Repeat(min, max int) Step { s.Repeated, s.MinN, s.MaxN = true, min, max; return s }

// count returns how many segments the step matches, at least and at most.
func (s Step) count() (int, int) {
	if !s.Repeated {
		return 1, 1
	}
	return s.MinN, s.MaxN
}

// Push expects a PUSH segment in direction d; narrow it with Sn, Una, Len and After.
func Push(d Dir) Step {
	return Step{Dir: d, Cmd: kcpwire.CmdPush, Sn: Any, Una: Any, Len: Any, Unread: Any}
}

// Ack expects an ACK segment in direction d (its Len is always 0).
func Ack(d Dir) Step {
	return Step{Dir: d, Cmd: kcpwire.CmdAck, Sn: Any, Una: Any, Len: 0, Unread: Any}
}

// WithSn expects sequence number n.
func (s Step) WithSn(n uint32) Step { s.Sn = int64(n); return s }

// WithUna expects una n.
func (s Step) WithUna(n uint32) Step { s.Una = int64(n); return s }

// WithLen expects n bytes of data.
func (s Step) WithLen(n uint32) Step { s.Len = int64(n); return s }

// WithUnread expects the sender to advertise its full receive window less n: the segments its
// application had not yet read when the segment was flushed (wnd is rcv_wnd minus the receive queue,
// in kcp-go and ikcp.c alike). The full window is the largest wnd the sender advertised in the trial:
// its first segment, sent before it received anything, advertises it. So the step holds for any
// implementation's window: kcp-go's 32, ikcp.c's 128, or what a script set.
func (s Step) WithUnread(n uint16) Step { s.Unread = int64(n); return s }

// After expects the segment gap after the previous one, within tolerance.Of(gap), over the class's trials;
// After(0) means "at once" (within 4 ms).
func (s Step) After(gap time.Duration) Step { s.Gap, s.Timed, s.Abs = gap, true, false; return s }

// At expects the segment at time t after the trial's start (the client session had just been
// created), within tolerance.Of(t), like an absolute time in a packetdrill script; over the class's trials,
// and never earlier in any trial.
func (s Step) At(t time.Duration) Step { s.Gap, s.Timed, s.Abs = t, true, true; return s }

// String renders the step like a ladder line, e.g. "c→s ACK  sn=0 una=1 len=0 wnd=full-1 (@100ms±12.5ms)".
func (s Step) String() string {
	f := func(v int64) string {
		if v == Any {
			return "*"
		}
		return fmt.Sprint(v)
	}
	out := fmt.Sprintf("%s %-4s sn=%s una=%s len=%s", s.Dir.Arrow(), s.Cmd, f(s.Sn), f(s.Una), f(s.Len))
	switch s.Unread {
	case Any:
	case 0:
		out += " wnd=full"
	default:
		out += fmt.Sprintf(" wnd=full-%d", s.Unread)
	}
	if s.Repeated {
		out += fmt.Sprintf(" ×%d-%d", s.MinN, s.MaxN)
	}
	if s.Lost {
		out += " (dropped by the link)"
	}
	switch {
	case s.Timed && s.Abs:
		out += fmt.Sprintf(" (@%v±%v)", s.Gap, tolerance.Of(s.Gap))
	case s.Timed:
		out += fmt.Sprintf(" (+%v±%v)", s.Gap, tolerance.Of(s.Gap))
	}
	return out
}

// match reports why seg does not fit the step's pattern (nil when it does); time is not part of it.
// full is the full receive window of seg's sender (fullWindows).
func (s Step) match(seg Seg, full fullWindows) error {
	var bad []string
	if seg.Dir != s.Dir {
		bad = append(bad, "dir")
	}
	if seg.Cmd != s.Cmd {
		bad = append(bad, "cmd")
	}
	if (seg.Dropped != "") != s.Lost {
		bad = append(bad, "dropped")
	}
	for _, f := range []struct {
		name      string
		want, got int64
	}{{"sn", s.Sn, int64(seg.Sn)}, {"una", s.Una, int64(seg.Una)}, {"len", s.Len, int64(seg.Len)}, {"wnd", s.Unread, int64(full[seg.Dir]) - int64(seg.Wnd)}} {
		if f.want != Any && f.want != f.got {
			bad = append(bad, f.name)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s", strings.Join(bad, ","))
	}
	return nil
}

// Ladder is the exact sequence of segments expected on the wire.
type Ladder []Step

// fullWindows is each sender's full receive window, by direction: the largest wnd its segments
// advertised.
type fullWindows map[Dir]uint16

func fullWindowsOf(segs []Seg) fullWindows {
	full := fullWindows{}
	for _, seg := range segs {
		full[seg.Dir] = max(full[seg.Dir], seg.Wnd)
	}
	return full
}

// Match checks segs against the ladder's pattern, step for step; the error shows expected and actual
// side by side. Timing is not checked here: a trial's class is decided by what happened, not by when.
func (l Ladder) Match(segs []Seg) error {
	if l.repeats() {
		_, reached, ok := l.align(segs)
		if ok {
			return nil
		}
		return &LadderMismatch{Want: l, Got: segs, Reasons: make([]string, max(len(l), len(segs))), Repeats: true, Step: reached + 1}
	}
	full := fullWindowsOf(segs)
	reasons := make([]string, max(len(l), len(segs)))
	step := 0 // the first row that differs, 1-based
	for i := range reasons {
		differs := i >= len(l) || i >= len(segs)
		if !differs {
			if err := l[i].match(segs[i], full); err != nil {
				reasons[i], differs = err.Error(), true
			}
		}
		if differs && step == 0 {
			step = i + 1
		}
	}
	if step == 0 {
		return nil
	}
	return &LadderMismatch{Want: l, Got: segs, Reasons: reasons, Step: step}
}

// repeats reports whether a step of the ladder may match other than exactly one segment.
func (l Ladder) repeats() bool {
	for _, s := range l {
		if s.Repeated {
			return true
		}
	}
	return false
}

// align maps the ladder's steps onto segs: first[i] is the index of step i's first segment (the next
// step's first minus it is how many it matched). It tries the longest runs first, and remembers the
// (step, segment) pairs that cannot lead to a match, so a long ladder of optional steps stays linear.
// reached is the most steps any try fit to a prefix of segs (len(l) with segments left over, when
// no alignment is found).
func (l Ladder) align(segs []Seg) (first []int, reached int, ok bool) {
	first = make([]int, len(l)+1)
	full := fullWindowsOf(segs)
	dead := make([]bool, (len(l)+1)*(len(segs)+1)) // dead[step*(len(segs)+1)+at]: no match from here
	var try func(step, at int) bool
	try = func(step, at int) bool {
		if dead[step*(len(segs)+1)+at] {
			return false
		}
		first[step] = at
		reached = max(reached, step)
		if step == len(l) {
			return at == len(segs)
		}
		lo, hi := l[step].count()
		n := 0
		for n < hi && at+n < len(segs) && l[step].match(segs[at+n], full) == nil {
			n++
		}
		for k := n; k >= lo; k-- {
			if try(step+1, at+k) {
				return true
			}
		}
		dead[step*(len(segs)+1)+at] = true
		return false
	}
	ok = try(0, 0)
	return first, reached, ok
}

// segmentOf returns the index of the first segment that step i matched in segs, or false when the
// ladder does not match or the step matched none.
func (l Ladder) segmentOf(i int, segs []Seg) (int, bool) {
	if !l.repeats() {
		return i, i < len(segs) && len(segs) == len(l)
	}
	first, _, ok := l.align(segs)
	if !ok || first[i+1] == first[i] {
		return 0, false
	}
	return first[i], true
}

// LadderMismatch is a failed Match: both ladders and, per row, what differs.
type LadderMismatch struct {
	Want    Ladder
	Got     []Seg
	Reasons []string
	Repeats bool // the ladder has repeated steps: rows are not aligned one to one
	// Step is the first step (1-based) that no segment fit, with repeated steps the first that no
	// alignment got past; one past the last step when segments remain after it.
	Step int
}

// Error prints the expected and the actual ladder side by side, marking the rows that differ.
func (m *LadderMismatch) Error() string {
	var b strings.Builder
	if m.Repeats {
		fmt.Fprintf(&b, "ladder mismatch: no way to match %d segments to the %d steps (some repeated)\n", len(m.Got), len(m.Want))
	} else {
		fmt.Fprintf(&b, "ladder mismatch: want %d segments, got %d\n", len(m.Want), len(m.Got))
	}
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
