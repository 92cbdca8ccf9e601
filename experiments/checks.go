package experiments

// The checks, event matchers and measures that several experiments share.

import (
	"fmt"
	"slices"
	"strings"

	"kcplab/expect"
	"kcplab/harness"
	"kcplab/kcpwire"
)

// wireInvariants are the invariants every experiment over a clean link lists: nothing before the
// client's first PUSH (no handshake) and nothing but data and its ACKs (no teardown, no keepalive).
func wireInvariants() []harness.Check {
	return []harness.Check{expect.NoHandshake(), expect.OnlyDataAndAcks()}
}

// checkFn is a named check from a predicate and the reason it fails.
func checkFn(name string, fn func(tr *harness.Trace) error) harness.Check {
	return harness.Check{Name: name, Fn: fn}
}

// serverRoleEnded checks that server#n's role ended with one of the outcomes want
// (harness.Trace.ServerOutcome: an error's outcome, or torn down by the trial).
func serverRoleEnded(n int, want ...harness.Outcome) harness.Check {
	names := make([]string, len(want))
	for i, o := range want {
		names[i] = o.String()
	}
	return checkFn(fmt.Sprintf("server#%d's role ended %s", n, strings.Join(names, " or ")), func(tr *harness.Trace) error {
		got, ok := tr.ServerOutcome(n)
		if !ok {
			return fmt.Errorf("only %d session(s) accepted", len(tr.ServerErr))
		}
		if !slices.Contains(want, got) {
			how := harness.ErrClass(tr.ServerErr[n-1]) // the message, for an error of no named outcome
			if got == harness.OutcomeTornDown {
				how = got.String()
			}
			return fmt.Errorf("it ended %s (%v)", how, tr.ServerErr[n-1])
		}
		return nil
	})
}

// noErrorButTimeout checks that every Read, Write and Close of side returned either nothing wrong or a
// deadline timeout: kcp-go never reported the dead path (no dead-link error, no EOF, no closed pipe).
func noErrorButTimeout(side harness.Side) harness.Check {
	return checkFn(fmt.Sprintf("the %s saw no error but read timeouts", side), func(tr *harness.Trace) error {
		for _, e := range tr.EventsOf(side, 0) {
			switch e.Kind {
			case harness.EvRead, harness.EvWrite, harness.EvClose:
				if e.Err != nil && !harness.IsTimeout(e.Err) {
					return fmt.Errorf("%s", e)
				}
			}
		}
		return nil
	})
}

// timedOutReads returns how many of side's Reads timed out, and the first that ended otherwise (nil
// when none did).
func timedOutReads(tr *harness.Trace, side harness.Side) (int, *harness.Event) {
	n := 0
	var other *harness.Event
	for _, e := range tr.EventsOf(side, 0) {
		switch {
		case e.Kind != harness.EvRead:
		case harness.IsTimeout(e.Err):
			n++
		case other == nil:
			other = &e
		}
	}
	return n, other
}

// serverReadFailed matches a server Read that returned an error.
func serverReadFailed(e harness.Event) bool {
	return e.Side == harness.Server && e.Kind == harness.EvRead && e.Err != nil
}

// isEvent matches an event by side, kind and session (harness.Event.Session).
func isEvent(side harness.Side, kind harness.EventKind, session int) func(harness.Event) bool {
	return func(e harness.Event) bool { return e.Side == side && e.Kind == kind && e.Session == session }
}

// responseRetransmissions measures how often the server sent its first PUSH again.
func responseRetransmissions() harness.Measure {
	return harness.Measure{Name: "retransmissions of the server's response", Fn: func(tr *harness.Trace) (float64, bool) {
		sent := len(tr.Segs().Dir(harness.S2C).Cmd(kcpwire.CmdPush).Sn(0))
		return float64(max(sent-1, 0)), sent > 0
	}}
}

// transmissionCount measures how often the PUSH segment sn went out in direction d (the copies the
// link dropped included).
func transmissionCount(name string, d harness.Dir, sn uint32) harness.Measure {
	return harness.Measure{Name: name, Fn: func(tr *harness.Trace) (float64, bool) {
		n := len(tr.Segs().Dir(d).Cmd(kcpwire.CmdPush).Sn(sn))
		return float64(n), n > 0
	}}
}

// clientReadTimedOutAfter checks that the client's first Read after the first event matching from (what
// it names) returned nothing and timed out: the client learned nothing until its deadline.
func clientReadTimedOutAfter(name, what string, from func(harness.Event) bool) harness.Check {
	return checkFn(name, func(tr *harness.Trace) error {
		e, ok := tr.EventAfter(from, harness.EventIs(harness.Client, harness.EvRead))
		if !ok {
			return fmt.Errorf("no Read after %s", what)
		}
		if e.N > 0 || !harness.IsTimeout(e.Err) {
			return fmt.Errorf("%s", e)
		}
		return nil
	})
}
