package harness

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"kcplab/internal/tolerance"
	"kcplab/kcpwire"
	"kcplab/stall"
)

// Stall and Stalls are the process's stalls within a trace (package stall).
type (
	Stall  = stall.Stall
	Stalls = stall.Stalls
)

// Everything about time lives here: the packetdrill-style tolerance, the timing expectations of a
// class, how they are judged over all the trials of a run, and the stalls of the process that explain
// a late value.
//
// Time never decides a trial's class: the wire pattern and the application's events do (see
// Ladder.Match). A busy machine delays a segment by tens of milliseconds without changing what kcp-go
// did, so a timing expectation is a measure, judged as a distribution over all the trials of a class:
// a Verdict fails when kcp-go's timing changed (the median moved, or many trials missed), not when one
// trial was descheduled. Where the protocol cannot be early (an update tick before it is due, a read
// deadline before it expires), an early value breaks the trial on its own (Timing.NeverEarly).

// MinShareWithin is the share of a class's values (those no measured stall explains) that must lie
// within tolerance. The rest are delays the probe did not see: a goroutine waiting for a CPU, a late
// first tick of one session (see README, "Timing").
const MinShareWithin = 0.8

// MinJudged is the smallest number of trials a timing expectation is judged on; fewer are reported.
const MinJudged = 5

// Timing is a timing expectation: a duration measured in each trial of a class, expected to be Want
// within tolerance.Of(Want).
type Timing struct {
	Name string        // what is timed, e.g. "c→s ACK sn=0 una=1 @100ms"
	Want time.Duration // the expected value
	// NeverEarly makes a value below Want-tolerance.Of(Want) break the trial: the protocol cannot cause it
	// (nothing is sent before the event that causes it).
	NeverEarly bool
	// Chained marks an event of kcp-go's update ticks, timed from the session's start: each tick is
	// scheduled an interval after the previous one ran (v5.7.6 sess.go:861-880, timedsched.go), so every
	// stall since the session started delays it, and any of them explains a late value.
	Chained bool
	// Measure returns the trial's value and the trace time of the event it ends at (to find the stall
	// around it); ok is false when the trial has no such value.
	Measure func(tr *Trace) (got, at time.Duration, ok bool)
}

// Early reports a per-trial violation of NeverEarly, or nil.
func (t Timing) Early(tr *Trace) error {
	if !t.NeverEarly {
		return nil
	}
	got, _, ok := t.Measure(tr)
	if ok && got < t.Want-tolerance.Of(t.Want) {
		return fmt.Errorf("%s: %.1fms, earlier than %v-%v: the protocol cannot send it before it is due",
			t.Name, ms(got), t.Want, tolerance.Of(t.Want))
	}
	return nil
}

// stepTimings turns a ladder's timed steps into timing expectations. A step timed with At is measured
// from the trial's start and can never be early: its timer starts with the client session, just after
// the trial's origin. A step timed with After is measured from the previous segment: by the sender's
// own clock when both are data (or window) segments of one sender, whose ts field is the kcp-go clock at
// the flush that sent them (kcp.go, flush: segment.ts = current on every transmission), so a datagram
// that waited on its way to the socket does not shorten the gap; otherwise between their captures,
// which a descheduled sender can delay, so the gap can come out short without kcp-go being early.
func stepTimings(l Ladder) []Timing {
	var out []Timing
	for i, s := range l {
		if !s.Timed {
			continue
		}
		step, abs := i, s.Abs
		byTs := i > 0 && !abs && l[i-1].Dir == s.Dir && l[i-1].Cmd != kcpwire.CmdAck && s.Cmd != kcpwire.CmdAck
		name := fmt.Sprintf("step %d, %s", i+1, s)
		if byTs {
			name += " by the sender's ts"
		}
		out = append(out, Timing{
			Name:       name,
			Want:       s.Gap,
			NeverEarly: abs,
			Chained:    abs,
			Measure: func(tr *Trace) (time.Duration, time.Duration, bool) {
				i, ok := l.segmentOf(step, tr.Segments)
				if !ok {
					return 0, 0, false
				}
				at := tr.Segments[i].Time
				switch {
				case abs:
					return at, at, true
				case i == 0:
					return 0, at, true
				case byTs:
					d := int32(tr.Segments[i].Ts - tr.Segments[i-1].Ts)
					return time.Duration(d) * time.Millisecond, at, true
				}
				return at - tr.Segments[i-1].Time, at, true
			},
		})
	}
	return out
}

// Verdict is a timing expectation judged over all the trials of one class.
type Verdict struct {
	Class  string  `json:"class"`
	Timing string  `json:"timing"`
	WantMs float64 `json:"want_ms"`
	TolMs  float64 `json:"tolerance_ms"`
	N      int     `json:"n"`      // trials of the class with a value
	Within int     `json:"within"` // of them, within tolerance
	// Explained counts the values later than tolerance by no more than a stall the probe measured
	// around them and its catch-up (stallReach): the machine's, left out of the median and the share.
	Explained int           `json:"explained_by_stall"`
	Median    time.Duration `json:"-"`
	// MedianMs is Median (of the values not explained by a stall) in milliseconds.
	MedianMs float64 `json:"median_ms"`
	Judged   bool    `json:"judged"` // false when fewer than MinJudged values are left to judge: reported only
	OK       bool    `json:"ok"`     // judged and within the rule, or not judged
	Why      string  `json:"why,omitempty"`
	// Outliers are the trials outside tolerance, each with the stall measured around its value.
	Outliers []Outlier `json:"outliers,omitempty"`
}

// Outlier is one trial whose value lay outside tolerance.
type Outlier struct {
	Trial   int           `json:"trial"`
	Got     time.Duration `json:"-"`
	GotMs   float64       `json:"ms"`
	Stall   time.Duration `json:"-"`
	StallMs float64       `json:"stall_ms,omitempty"` // how long the process was stalled between the due time and the value
	// Explained is true when the stall and its catch-up (stallReach) cover how late the value was
	// beyond tolerance.
	Explained bool `json:"explained_by_stall,omitempty"`
}

// String is one line, e.g. `p003 "delivered" step 4 …: median 100.4ms (want 100ms±12.5ms), 19/20 within: ok`.
func (v Verdict) String() string {
	s := fmt.Sprintf("%q %s: n=%d, median %.1fms, %d/%d within %v±%v",
		v.Class, v.Timing, v.N, v.MedianMs, v.Within, v.N-v.Explained, time.Duration(v.WantMs*float64(time.Millisecond)), time.Duration(v.TolMs*float64(time.Millisecond)))
	if v.Explained > 0 {
		s += fmt.Sprintf(" (%d more late by a measured stall)", v.Explained)
	}
	switch {
	case !v.Judged:
		s += ": not judged: " + v.Why
	case v.OK:
		s += ": ok"
	default:
		s += ": FAILED, " + v.Why
	}
	if len(v.Outliers) > 0 {
		parts := make([]string, 0, len(v.Outliers))
		for _, o := range v.Outliers {
			p := fmt.Sprintf("trial %d %.1fms", o.Trial, o.GotMs)
			switch {
			case o.Explained:
				p += fmt.Sprintf(" (explained: process stalled %.1fms around it)", o.StallMs)
			case o.Stall > 0:
				p += fmt.Sprintf(" (process stalled %.1fms around it)", o.StallMs)
			}
			parts = append(parts, p)
		}
		s += "; outside tolerance: " + strings.Join(parts, ", ")
	}
	return s
}

// sample is one trial's value of a timing expectation.
type sample struct {
	trial   int
	got, at time.Duration
	stalls  Stalls
}

// judge decides a timing expectation over the samples of one class. What a stall of the process can
// and cannot do decides which values are evidence about kcp-go:
//   - a stall only delays: a value early beyond tolerance is kcp-go's, whatever the machine did;
//   - a stall delays a value by at most its own length and the catch-up after it (stallReach), and
//     only one in the value's own window (see sample.stallFor): a value later than tolerance by no
//     more than that is the machine's, carries no evidence either way, and is left out;
//   - a changed kcp-go constant moves every value, stalled or not, so the values left (within
//     tolerance, or later than any stall in their window explains) carry the protocol's own timing.
//
// The values left must be at least MinJudged, have their median within tolerance of Want, and at least
// MinShareWithin of them must lie within tolerance (the probe cannot see every delay; the share leaves
// room for the ones it missed). With fewer, the verdict is not judged and says why, with the stalls
// that left the values out. Runs stagger their trials' starts (Stagger) so that one stall does not
// cover every trial's window.
func judge(class string, t Timing, samples []sample) Verdict {
	tol := tolerance.Of(t.Want)
	v := Verdict{Class: class, Timing: t.Name, WantMs: ms(t.Want), TolMs: ms(tol), N: len(samples)}
	var judged, explainedBy []time.Duration
	for _, s := range samples {
		d := s.got - t.Want
		if d >= -tol && d <= tol {
			v.Within++
			judged = append(judged, s.got)
			continue
		}
		o := Outlier{Trial: s.trial, Got: s.got, GotMs: ms(s.got), Stall: s.stallFor(t)}
		o.StallMs = ms(o.Stall)
		o.Explained = d > tol && stallReach(o.Stall) >= d-tol
		if o.Explained {
			v.Explained++
			explainedBy = append(explainedBy, o.Stall)
		} else {
			judged = append(judged, s.got)
		}
		v.Outliers = append(v.Outliers, o)
	}
	v.Median = median(judged)
	v.MedianMs = ms(v.Median)
	v.Judged = len(judged) >= MinJudged
	v.OK = true
	if !v.Judged {
		v.Why = fmt.Sprintf("%d value(s), at least %d needed", len(judged), MinJudged)
		if v.Explained > 0 {
			v.Why = fmt.Sprintf("%d value(s) left, at least %d needed; %d of %d late by no more than the process stalled in their own window (%s)",
				len(judged), MinJudged, v.Explained, v.N, spread(explainedBy))
		}
		return v
	}
	var why []string
	if d := v.Median - t.Want; d < -tol || d > tol {
		why = append(why, fmt.Sprintf("median %.1fms is outside %v±%v", ms(v.Median), t.Want, tol))
	}
	if float64(v.Within) < MinShareWithin*float64(len(judged)) {
		why = append(why, fmt.Sprintf("only %d of %d trials within tolerance (want at least %.0f%%)", v.Within, len(judged), 100*MinShareWithin))
	}
	v.OK, v.Why = len(why) == 0, strings.Join(why, "; ")
	return v
}

// stallReach is how late a stall of s can make a value: s, and the catch-up after it. What fell due
// while the process was stalled (other trials' timers, their starts, the capture's backlog) runs
// at once when it ends, so the last of it waits for the rest, longer after a longer stall. The
// catch-up is bounded by the relative part of the packetdrill tolerance, 12.5% of the stall (seen: 3-7%
// beyond tolerance after stalls of 93-378 ms; RESULTS.md, nobody-listening).
func stallReach(s time.Duration) time.Duration { return s + s/8 }

// needMoreTrials reports whether a verdict was left with too few values to judge by stalls of the
// process: it had MinJudged values, and values a stall explains were left out. More trials, in quieter
// windows, can judge it; a class with few trials cannot be helped that way.
func needMoreTrials(vs []Verdict) bool {
	for _, v := range vs {
		if !v.Judged && v.Explained > 0 && v.N >= MinJudged {
			return true
		}
	}
	return false
}

// stallFor returns how long the process was stalled in the window where a stall can have delayed the
// sample's value: from its due time (less tolerance) to the value; for a Chained value, from its
// session's start, whose first update tick is due at the trace's origin, since a late tick delays every
// later one. A stall outside that window delays nothing the value depends on, and a stall in it
// accounts for at most its own length.
func (s sample) stallFor(t Timing) time.Duration {
	tol := tolerance.Of(t.Want)
	due := s.at - s.got + t.Want // when the event was due
	from := min(due, s.at) - tol
	if t.Chained {
		from = -tol
	}
	return s.stalls.Within(from, max(due, s.at))
}

// spread renders the range of some stalls, e.g. "stalls of 35.1-42.3ms".
func spread(ds []time.Duration) string {
	lo, hi := slices.Min(ds), slices.Max(ds)
	if lo == hi {
		return fmt.Sprintf("stalls of %.1fms", ms(lo))
	}
	return fmt.Sprintf("stalls of %.1f-%.1fms", ms(lo), ms(hi))
}

// Stagger is how far apart a run of par trials at once starts its trials, so that one stall of the
// process (up to staggerStall) falls in the timing windows of at most a quarter of the trials in flight
// and the rest carry kcp-go's own timing (see judge): a window is the longest Chained expectation
// (a tick timed from the session's start) plus the stall. It is at least the process's own start
// spacing and at most maxStagger, which bounds what staggering adds to a run.
func Stagger(e *Experiment, par int) time.Duration {
	var window time.Duration
	for _, c := range e.Classes {
		for _, t := range c.timings(e) {
			if t.Chained {
				window = max(window, t.Want+tolerance.Of(t.Want))
			}
		}
	}
	s := 4 * (window + staggerStall) / time.Duration(max(par, 1))
	return min(max(s, startSpacing), maxStagger)
}

const (
	// staggerStall is the longest stall Stagger spreads trials against: the stalled-machine test's
	// longest (TestStalledMachine freezes the process for 30-80 ms).
	staggerStall = 80 * time.Millisecond
	// maxStagger bounds the spacing of a run's starts.
	maxStagger = 50 * time.Millisecond
)

// median returns the median of vals (the mean of the middle two for an even count), 0 for none.
func median(vals []time.Duration) time.Duration {
	if len(vals) == 0 {
		return 0
	}
	s := slices.Clone(vals)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// LoadSummary says how much the machine disturbed a run: one summary for the run output, summary.json
// and RESULTS.md.
type LoadSummary struct {
	Trials        int     `json:"trials"`
	Stalled       int     `json:"stalled"` // trials in which the process stalled longer than tolerance.Of(0)
	LongestMs     float64 `json:"longest_stall_ms"`
	LongestTrial  int     `json:"longest_stall_trial,omitempty"`
	TimingOutside int     `json:"timing_outliers"` // values outside tolerance, over every verdict
}

// String is one line, or "" when nothing stalled and no value was outside tolerance.
func (l LoadSummary) String() string {
	if l.Stalled == 0 && l.TimingOutside == 0 {
		return ""
	}
	return fmt.Sprintf("machine load: the process stalled longer than %v in %d of %d trials (longest %.1fms, trial %d); %d timed value(s) outside tolerance",
		tolerance.Of(0), l.Stalled, l.Trials, l.LongestMs, l.LongestTrial, l.TimingOutside)
}

// Load summarises the run's stalls and timing outliers.
func (r *Result) Load() LoadSummary {
	l := LoadSummary{Trials: len(r.Trials)}
	for _, t := range r.Trials {
		if t.Trace == nil {
			continue
		}
		if lg := t.Trace.Stalls.Longest(); lg > tolerance.Of(0) {
			l.Stalled++
			if ms(lg) > l.LongestMs {
				l.LongestMs, l.LongestTrial = ms(lg), t.Trial
			}
		}
	}
	for _, v := range r.Timing {
		l.TimingOutside += len(v.Outliers)
	}
	return l
}

// judgeTimings judges every timing expectation of every class over the run's classified trials.
func judgeTimings(e *Experiment, trials []TrialResult) []Verdict {
	var out []Verdict
	for _, c := range e.Classes {
		for _, t := range c.timings(e) {
			var samples []sample
			for _, tr := range trials {
				if !tr.Class.Is(c) || tr.Trace == nil {
					continue
				}
				if got, at, ok := t.Measure(tr.Trace); ok {
					samples = append(samples, sample{trial: tr.Trial, got: got, at: at, stalls: tr.Trace.Stalls})
				}
			}
			if len(samples) > 0 {
				out = append(out, judge(c.Name, t, samples))
			}
		}
	}
	return out
}

// timings are the class's timing expectations: its ladder's timed steps, then the experiment's.
func (c Class) timings(e *Experiment) []Timing {
	return slices.Concat(stepTimings(c.Ladder), c.Timings, e.Timings)
}
