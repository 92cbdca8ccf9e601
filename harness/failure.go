package harness

import (
	"errors"
	"fmt"
	"strings"
)

// FailureKind says what made a trial fail.
type FailureKind string

// The kinds of failure, as summary.json writes them.
const (
	FailNoClass        FailureKind = "no class"        // the trial fit none of the experiment's classes
	FailSeveralClasses FailureKind = "several classes" // it fit more than one
	FailInvariant      FailureKind = "invariant"       // it broke one of the experiment's invariants
	FailNeverEarly     FailureKind = "never early"     // a step the protocol cannot send early came early
	FailRunError       FailureKind = "run error"       // the trial did not run to its end, or its capture was not written
	FailCrossed        FailureKind = "crossed"         // another trial's datagram crossed every attempt (crossed.go)
)

// Failure is one reason a trial failed, as fields: summary.json lists them beside the error's text
// so that a reader groups failures without parsing that text.
type Failure struct {
	Kind FailureKind `json:"kind"`
	// Class is the class the trial fit, for never early.
	Class string `json:"class,omitempty"`
	// Classes are the classes the trial fit, sorted, for several classes.
	Classes []string `json:"classes,omitempty"`
	// Tried says, for no class, where each class stopped fitting.
	Tried []Miss `json:"tried,omitempty"`
	// Invariant is the invariant broken; Timing the timing expectation that came early (never early).
	Invariant string `json:"invariant,omitempty"`
	Timing    string `json:"timing,omitempty"`
	// Error is the first line of a run error's text.
	Error string `json:"error,omitempty"`
}

// Miss is where a trial stopped fitting one class: the first step of its ladder that no segment
// fit, or, when the ladder fit, the first of its checks that failed.
type Miss struct {
	Class string `json:"class"`
	// Step is 1-based; one past the ladder's last step means segments remained after it.
	Step  int    `json:"step,omitempty"`
	Check string `json:"check,omitempty"`
}

// String says the failure in one line that every trial failing the same way shares, e.g.
// `invariant "one session" broken` or `fits no class: not "delivered" at step 3`.
func (f Failure) String() string {
	switch f.Kind {
	case FailNoClass:
		why := make([]string, len(f.Tried))
		for i, m := range f.Tried {
			why[i] = m.String()
		}
		if len(why) == 0 {
			return "fits no class (it has none)"
		}
		return "fits no class: " + strings.Join(why, ", ")
	case FailSeveralClasses:
		return "fits several classes: " + strings.Join(f.Classes, ", ")
	case FailInvariant:
		return fmt.Sprintf("invariant %q broken", f.Invariant)
	case FailNeverEarly:
		return fmt.Sprintf("invariant \"never early\" broken in %q: %s", f.Class, f.Timing)
	case FailCrossed:
		return "crossed by another trial's datagram in every attempt"
	}
	return f.Error
}

// String says where the class stopped fitting, e.g. `not "delivered" at step 3`.
func (m Miss) String() string {
	switch {
	case m.Check != "":
		return fmt.Sprintf("not %q: check %q", m.Class, m.Check)
	case m.Step > 0:
		return fmt.Sprintf("not %q at step %d", m.Class, m.Step)
	}
	return fmt.Sprintf("not %q", m.Class)
}

// FailureKey says in one line how a trial failed, from all its failures: the key by which the
// matrix counts failed trials together.
func FailureKey(fs []Failure) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = f.String()
	}
	return strings.Join(parts, "; ")
}

// TrialFailure is the error Classify returns for a trial that does not fit: its failures as fields,
// and the text that says them in full (the actual ladder beside each class's, the invariants' own
// errors, a note on the process's stalls).
type TrialFailure struct {
	Failures []Failure
	errs     []error // the text: one error per failure, then any note
}

// Error is the text of every failure, one after another.
func (f *TrialFailure) Error() string { return errors.Join(f.errs...).Error() }

// Unwrap returns the errors the text is made of (an invariant's own error among them).
func (f *TrialFailure) Unwrap() []error { return f.errs }

// add records a failure and its text.
func (f *TrialFailure) add(fl Failure, err error) {
	f.Failures = append(f.Failures, fl)
	f.errs = append(f.errs, err)
}

// missOf says where class stopped fitting, from the error its match returned.
func missOf(class string, err error) Miss {
	m := Miss{Class: class}
	var lm *LadderMismatch
	var cf *checkFailed
	switch {
	case errors.As(err, &lm):
		m.Step = lm.Step
	case errors.As(err, &cf):
		m.Check = cf.name
	}
	return m
}

// checkFailed is a class's check that a trace does not pass.
type checkFailed struct {
	name string
	err  error
}

func (c *checkFailed) Error() string { return c.name + ": " + c.err.Error() }
func (c *checkFailed) Unwrap() error { return c.err }

// FailuresOf lists the failures of a trial's error: Classify's, a crossing, and anything else (a
// trial that did not run to its end, a capture not written) as a run error.
func FailuresOf(err error) []Failure {
	switch e := err.(type) {
	case nil:
		return nil
	case *TrialFailure:
		return e.Failures
	case Crossing:
		return []Failure{{Kind: FailCrossed}}
	case interface{ Unwrap() []error }:
		var out []Failure
		for _, x := range e.Unwrap() {
			out = append(out, FailuresOf(x)...)
		}
		return out
	}
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	return []Failure{{Kind: FailRunError, Error: msg}}
}
