package experiments

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"kcplab/harness"
	"kcplab/script"
)

// TestTimingVerdictSeesKCPGoChange runs p003-linger (whose every trial ACKs the response at the
// client's next tick) with the client's update interval changed, as a kcp-go
// release that changed its default would: every trial still fits a class (a client starved past the
// server's retransmission timeout, likelier with a longer interval, has its own), but the timing
// verdict of the client's ACK at its next tick fails, while at kcp-go's own 100 ms it holds. At 50 ms the ACK comes
// before a 100 ms tick could, which also breaks each such trial's "never early" invariant; at 125 and
// 150 ms it is only late, a uniform shift that only the distribution tells from a stalled machine. A
// verdict that is not judged fails the test: it did not reach the judgement the test is about.
func TestTimingVerdictSeesKCPGoChange(t *testing.T) {
	t.Parallel()
	base, err := Lookup("p003-linger")
	require.NoError(t, err)
	tests := []struct {
		name      string
		interval  int // ms
		timingOK  bool
		earlyFail bool
	}{
		{"kcp-go's default 100 ms", 100, true, false},
		{"interval 50 ms", 50, false, true},
		{"interval 125 ms", 125, false, false},
		{"interval 150 ms", 150, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := *base
			client := *e.ClientScript // the client's script with its update interval set
			nodelay, interval, resend, nc := 0, tc.interval, 0, 0
			client.Options = script.Options{NoDelay: &nodelay, IntervalMs: &interval, Resend: &resend, NC: &nc}
			e.ClientScript = &client
			res, err := harness.Run(context.Background(), &e, harness.RunOptions{Trials: 20, Parallel: 20, KeepDir: t.TempDir()})
			require.NoError(t, err)
			var tick []harness.Verdict
			for _, v := range res.Timing {
				if v.Class == lingerAckAtTick.Name && strings.Contains(v.Timing, "@100ms") {
					tick = append(tick, v)
				}
			}
			require.Len(t, tick, 1, "the ACK-at-tick verdict of %q: %v", lingerAckAtTick.Name, res.Timing)
			v := tick[0]
			t.Log(v)
			require.True(t, v.Judged, "%s", v)
			assert.Equal(t, tc.timingOK, v.OK, "%s", v)
			early := 0
			for _, f := range res.Failed() {
				for _, fl := range harness.FailuresOf(f.Err) {
					switch {
					case fl.Kind == harness.FailNeverEarly:
						early++
					default:
						t.Errorf("trial %d failed otherwise: %v", f.Trial, f.Err)
					}
				}
			}
			assert.Equal(t, tc.earlyFail, early > 0, "trials broken by an early tick: %d", early)
		})
	}
}
