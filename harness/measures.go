package harness

import "time"

// Accepts measures how many sessions the listener accepted in a trial.
func Accepts() Measure {
	return Measure{Name: "sessions accepted by the listener", Fn: func(tr *Trace) (float64, bool) {
		return float64(tr.Accepts), true
	}}
}

// SegmentGap measures the time in ms from segment i to segment j of the trial (0-based).
func SegmentGap(name string, i, j int) Measure {
	return Measure{Name: name, Fn: func(tr *Trace) (float64, bool) {
		if i >= len(tr.Segments) || j >= len(tr.Segments) {
			return 0, false
		}
		return ms(tr.Segments[j].Time - tr.Segments[i].Time), true
	}}
}

// EventIs matches an application event by side and kind.
func EventIs(side Side, kind EventKind) func(Event) bool {
	return func(e Event) bool { return e.Side == side && e.Kind == kind }
}

// EventGap measures the time in ms from the first event matching from to the first event after it
// matching to.
func EventGap(name string, from, to func(Event) bool) Measure {
	return Measure{Name: name, Fn: func(tr *Trace) (float64, bool) {
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
