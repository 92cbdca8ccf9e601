package stall

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Stall is an interval, relative to the trace's Start, in which the trial's process did not run
// promptly: a 1 ms probe timer due at From fired only at To, or a probe ping sent at From reached the
// goroutine blocked on it only at To. Every kcp-go timer due in it (update ticks, retransmissions,
// deadlines) and every datagram a session received in it waited too. Stalls never decide a verdict;
// they say why a value lay outside tolerance.
type Stall struct{ From, To time.Duration }

// String is e.g. "33.9ms at -0.3ms".
func (s Stall) String() string {
	return fmt.Sprintf("%.1fms at %.1fms", ms(s.To-s.From), ms(s.From))
}

// Stalls are the stalls of one trial, in time order.
type Stalls []Stall

// Within returns how long the process was stalled between from and to.
func (s Stalls) Within(from, to time.Duration) time.Duration {
	var sum time.Duration
	for _, st := range s {
		if lo, hi := max(st.From, from), min(st.To, to); hi > lo {
			sum += hi - lo
		}
	}
	return sum
}

// Longest returns the longest stall's length (0 when none).
func (s Stalls) Longest() time.Duration {
	var l time.Duration
	for _, st := range s {
		l = max(l, st.To-st.From)
	}
	return l
}

// String lists the stalls, e.g. "2 stalls: 68.1ms at 92.0ms, 4.7ms at 300.2ms" (at most 8).
func (s Stalls) String() string {
	if len(s) == 0 {
		return "no stall"
	}
	parts := make([]string, 0, min(len(s), 9))
	for i, st := range s {
		if i == 8 {
			parts = append(parts, fmt.Sprintf("and %d more", len(s)-i))
			break
		}
		parts = append(parts, st.String())
	}
	noun := "stalls"
	if len(s) == 1 {
		noun = "stall"
	}
	return fmt.Sprintf("%d %s: %s", len(s), noun, strings.Join(parts, ", "))
}

// Since turns the probe's stalls into a trace's, relative to start, in time order, with
// overlapping ones merged (the probe's timer and its ping see one stall twice).
func Since(start time.Time, raw []Span) Stalls {
	sort.Slice(raw, func(i, j int) bool { return raw[i].From.Before(raw[j].From) })
	var out Stalls
	for _, st := range raw {
		s := Stall{From: st.From.Sub(start), To: st.To.Sub(start)}
		if n := len(out); n > 0 && s.From <= out[n-1].To {
			out[n-1].To = max(out[n-1].To, s.To)
		} else {
			out = append(out, s)
		}
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
