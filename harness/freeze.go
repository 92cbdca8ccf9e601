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
// probe saw a freeze of at least FreezeLimit during it) is run again like a crossed one (at most
// maxCrossedRuns attempts in all), its capture kept and counted in Result.Crossed. The last attempt
// is classified as it is, so a trial that keeps failing still fails: what kcp-go does in every
// attempt is not hidden. Stalls shorter than that only move times, which the timing verdict already
// allows for (timing.go); a trial that fits several classes, or sends a step early, fails at once.

// FreezeLimit is kcp-go's minimum retransmission timeout outside nodelay mode (IKCP_RTO_MIN, 100 ms,
// kcp.go:22): a freeze that long can fire a retransmission by itself.
const FreezeLimit = 100 * time.Millisecond

// Freeze is an attempt that failed while the process froze for at least FreezeLimit.
type Freeze struct {
	LongestMs float64 `json:"longest_ms"` // the longest freeze during the attempt
	What      string  `json:"what"`       // how the attempt failed: "fit no class", "broke an invariant"
}

func (f Freeze) Error() string {
	return fmt.Sprintf("the process froze for %.1fms during the trial, at least kcp-go's minimum RTO (%v), and the trial %s", f.LongestMs, FreezeLimit, f.What)
}

// frozen returns the Freeze of a trial whose classification failed with err, if it failed only by
// fitting no class or breaking invariants, and the process froze for at least FreezeLimit during it.
func frozen(tr *Trace, err error) (Freeze, bool) {
	var tf *TrialFailure
	if !errors.As(err, &tf) || tr.Stalls.Longest() < FreezeLimit {
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
	return Freeze{LongestMs: ms(tr.Stalls.Longest()), What: what}, true
}
