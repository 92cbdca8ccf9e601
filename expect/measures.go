package expect

import (
	"time"

	"kcplab/harness"
)

// Accepts measures how many sessions the listener accepted in a trial.
func Accepts() harness.Measure {
	return harness.Measure{Name: "sessions accepted by the listener", Fn: func(tr *harness.Trace) (float64, bool) {
		return float64(tr.Accepts), true
	}}
}

// SegmentGap measures the time in ms from segment i to segment j of the trial (0-based).
func SegmentGap(name string, i, j int) harness.Measure {
	return harness.Measure{Name: name, Fn: func(tr *harness.Trace) (float64, bool) {
		if i >= len(tr.Segments) || j >= len(tr.Segments) {
			return 0, false
		}
		return ms(tr.Segments[j].Time - tr.Segments[i].Time), true
	}}
}

// EventGap measures the time in ms from the first event matching from to the first event after it
// matching to.
func EventGap(name string, from, to func(harness.Event) bool) harness.Measure {
	return harness.Measure{Name: name, Fn: func(tr *harness.Trace) (float64, bool) {
		var start time.Time
		for _, e := range tr.Events {
			switch {
			case start.IsZero() && from(e):
				start = e.Time
			case !start.IsZero() && to(e):
				return ms(e.Time.Sub(start)), true
			}
		}
		return 0, false
	}}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
