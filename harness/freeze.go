package harness

import (
	"errors"
	"fmt"
	"time"
)

// A freeze of the whole process (a machine busy compiling beside the tests, or starved of CPU by its
// host) stops kcp-go's timers with it. Once it lasts as long as kcp-go's minimum retransmission
// timeout, a segment is retransmitted because the process was not running, not because kcp-go
// decided so, and a link's scheduled impairment (a blackhole from 300 ms) meets the exchange at
// another step: the trial puts a ladder on the wire that no class names, or breaks an invariant, and
// it measured the machine. Such an attempt (it fits no class or breaks an invariant, and the stall
// probe saw the process stalled for at least the sessions' minimum RTO within two of them:
// frozenFor) is run again like a crossed one (at most maxCrossedRuns attempts in all), its capture
// kept and counted in Result.Crossed. The last attempt is classified as it is, so a trial that keeps
// failing still fails: what kcp-go does in every attempt is not hidden. Stalls shorter than that only
// move times, which the timing verdict already allows for (timing.go); a trial that fits several
// classes, or sends a step early, fails at once.

// FreezeLimit is kcp-go's minimum retransmission timeout outside nodelay mode (IKCP_RTO_MIN, 100 ms,
// kcp.go:35): a freeze that long can fire a retransmission by itself. An experiment whose sessions
// use a shorter one says so (Experiment.MinRTO).
const FreezeLimit = 100 * time.Millisecond

// frozenFor is the longest the process was stalled, in all, within a span of two rto that starts at
// one of its stalls: a freeze in one piece, or stalls close enough together to delay a timer of rto
// by as much.
func frozenFor(s Stalls, rto time.Duration) time.Duration {
	var most time.Duration
	for _, st := range s {
		most = max(most, s.Within(st.From, st.From+2*rto))
	}
	return most
}

// Freeze is an attempt that failed while the process was stalled for at least the sessions' minimum
// RTO within two of them (frozenFor).
type Freeze struct {
	StalledMs float64 `json:"stalled_ms"` // stalled within two MinRTO during the attempt (frozenFor)
	MinRTOMs  float64 `json:"min_rto_ms"` // the experiment's minimum RTO
	What      string  `json:"what"`       // how the attempt failed: "fit no class", "broke an invariant"
}

// Error says how long the process was stalled and how the trial failed.
func (f Freeze) Error() string {
	return fmt.Sprintf("the process was stalled for %.1fms within %.0fms during the trial, at least the sessions' minimum RTO (%.0fms), and the trial %s", f.StalledMs, 2*f.MinRTOMs, f.MinRTOMs, f.What)
}

// Frozen returns the Freeze of a trial of e whose classification failed with err, when the process
// was frozen during it (frozen); a caller that runs trials itself runs such an attempt again, as Run
// does.
func Frozen(e *Experiment, tr *Trace, err error) (Freeze, bool) { return frozen(tr, err, e.minRTO()) }

// frozen returns the Freeze of a trial whose classification failed with err, if it failed only by
// fitting no class or breaking invariants, and the process was stalled for at least rto within two
// rto (frozenFor) during it.
func frozen(tr *Trace, err error, rto time.Duration) (Freeze, bool) {
	var tf *TrialFailure
	if !errors.As(err, &tf) {
		return Freeze{}, false
	}
	what := "fit no class"
	for _, f := range tf.Failures {
		switch f.Kind {
		case FailNoClass:
		case FailInvariant:
			what = "broke an invariant"
		default:
			return Freeze{}, false
		}
	}
	froze := frozenFor(tr.Stalls, rto)
	if froze < rto {
		return Freeze{}, false
	}
	return Freeze{StalledMs: ms(froze), MinRTOMs: ms(rto), What: what}, true
}
