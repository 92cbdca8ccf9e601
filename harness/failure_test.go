package harness

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"kcplab/kcpwire"
)

// TestClassifyFailureFields: Classify's error is a *TrialFailure whose fields say what failed (the
// kind, where each class stopped fitting, the classes fit, the invariant, the early timing), and
// whose text is the text the trial's failure always had.
func TestClassifyFailureFields(t *testing.T) {
	t.Parallel()
	push := seg(C2S, kcpwire.CmdPush, 0, 0, 9, 10*time.Millisecond)
	ack := seg(S2C, kcpwire.CmdAck, 0, 1, 0, 11*time.Millisecond)
	request := Class{Name: "request", Ladder: Ladder{Push(C2S).WithSn(0)}}
	answered := Class{Name: "answered", Ladder: Ladder{Push(C2S).WithSn(0), Ack(S2C).WithUna(1)}}
	retried := Class{Name: "retried", Ladder: Ladder{Push(C2S).Repeat(1, 2)}}
	checked := Class{Name: "checked", Ladder: Ladder{Push(C2S), Ack(S2C)},
		Checks: []Check{{Name: "read all", Fn: func(*Trace) error { return errors.New("read 0 of 4 bytes") }}}}
	oneSession := Check{Name: "one session", Fn: func(*Trace) error { return errors.New("2 sessions") }}
	tests := []struct {
		name     string
		classes  []Class
		inv      []Check
		segs     []Seg
		stalled  bool
		class    string
		want     []Failure
		key      string
		contains []string // in the error's text
	}{
		{name: "fits", classes: []Class{answered, request}, segs: []Seg{push, ack}, class: "answered"},
		{
			name: "no class", classes: []Class{answered, checked}, segs: []Seg{push, push},
			want: []Failure{{Kind: FailNoClass, Tried: []Miss{{Class: "answered", Step: 2}, {Class: "checked", Step: 2}}}},
			key:  `fits no class: not "answered" at step 2, not "checked" at step 2`,
			contains: []string{"trial 3 fits no class; actual ladder:\n", `not "answered": ladder mismatch: want 2 segments, got 2`,
				"✗  s→c ACK  sn=* una=1 len=0"},
		},
		{
			name: "no class: a check, and segments after a repeated step", classes: []Class{checked, retried}, segs: []Seg{push, ack},
			want: []Failure{{Kind: FailNoClass, Tried: []Miss{{Class: "checked", Check: "read all"}, {Class: "retried", Step: 2}}}},
			key:  `fits no class: not "checked": check "read all", not "retried" at step 2`,
			contains: []string{`not "checked": read all: read 0 of 4 bytes`,
				"ladder mismatch: no way to match 2 segments to the 1 steps (some repeated)"},
		},
		{
			name: "no class: segments missing", classes: []Class{answered}, segs: nil,
			want: []Failure{{Kind: FailNoClass, Tried: []Miss{{Class: "answered", Step: 1}}}},
			key:  `fits no class: not "answered" at step 1`,
		},
		{
			name: "several classes", classes: []Class{request, retried}, segs: []Seg{push},
			want:     []Failure{{Kind: FailSeveralClasses, Classes: []string{"request", "retried"}}},
			key:      "fits several classes: request, retried",
			contains: []string{"trial 3 fits several classes: request, retried"},
		},
		{
			name: "an invariant and no class", classes: []Class{answered}, inv: []Check{oneSession}, segs: []Seg{push}, stalled: true,
			want: []Failure{{Kind: FailInvariant, Invariant: "one session"}, {Kind: FailNoClass, Tried: []Miss{{Class: "answered", Step: 2}}}},
			key:  `invariant "one session" broken; fits no class: not "answered" at step 2`,
			contains: []string{"invariant \"one session\" broken: 2 sessions\ntrial 3 fits no class",
				"\nnote: the process stalled during this trial"},
		},
		{
			name:    "never early",
			classes: []Class{{Name: "at the tick", Ladder: Ladder{Push(C2S).At(100 * time.Millisecond)}}}, segs: []Seg{push},
			class: "at the tick",
			want: []Failure{{Kind: FailNeverEarly, Class: "at the tick",
				Timing: "step 1, c→s PUSH sn=* una=* len=* (@100ms±12.5ms)"}},
			key:      `invariant "never early" broken in "at the tick": step 1, c→s PUSH sn=* una=* len=* (@100ms±12.5ms)`,
			contains: []string{`invariant "never early" broken: step 1`, "earlier than 100ms-12.5ms"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := &Experiment{ID: "x", Classes: tc.classes, Invariants: tc.inv}
			tr := &Trace{Trial: 3, Segments: tc.segs}
			if tc.stalled {
				tr.Stalls = Stalls{{From: time.Millisecond, To: 51 * time.Millisecond}}
			}
			class, err := Classify(e, tr)
			assert.Equal(t, tc.class, class.Name)
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			var tf *TrialFailure
			require.True(t, errors.As(err, &tf), "%T: %v", err, err)
			assert.Equal(t, tc.want, tf.Failures)
			assert.Equal(t, tc.want, FailuresOf(err))
			assert.Equal(t, tc.key, FailureKey(tf.Failures))
			for _, s := range tc.contains {
				assert.Contains(t, err.Error(), s)
			}
		})
	}
}

// TestFailuresOf: a trial's error that is not Classify's still says what it was: a crossing, or a
// run error by its first line, each part of a joined error on its own.
func TestFailuresOf(t *testing.T) {
	t.Parallel()
	tf := &TrialFailure{Failures: []Failure{{Kind: FailInvariant, Invariant: "i"}}, errs: []error{errors.New("invariant \"i\" broken")}}
	tests := []struct {
		name string
		err  error
		want []Failure
	}{
		{"none", nil, nil},
		{"run error", fmt.Errorf("client role still running after %v\nmore", time.Second),
			[]Failure{{Kind: FailRunError, Error: "client role still running after 1s"}}},
		{"crossed", Crossing{By: "x trial 2", Conv: 7, Datagram: 3}, []Failure{{Kind: FailCrossed}}},
		{"classified, then the capture not written", errors.Join(tf, errors.New("writing x.pcapng: disk full")),
			[]Failure{{Kind: FailInvariant, Invariant: "i"}, {Kind: FailRunError, Error: "writing x.pcapng: disk full"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, FailuresOf(tc.err))
		})
	}
	assert.Equal(t, "crossed by another trial's datagram in every attempt", Failure{Kind: FailCrossed}.String())
	assert.Equal(t, "fits no class (it has none)", Failure{Kind: FailNoClass}.String())
}

// TestSummaryWritesFailures: summary.json carries each failed trial's failures as fields.
func TestSummaryWritesFailures(t *testing.T) {
	t.Parallel()
	e := &Experiment{ID: "x", Classes: []Class{{Name: "answered", Ladder: Ladder{Push(C2S), Ack(S2C)}}}}
	_, err := Classify(e, &Trace{Trial: 1, Segments: []Seg{seg(C2S, kcpwire.CmdPush, 0, 0, 9, 0)}})
	require.Error(t, err)
	r := &Result{Experiment: e, Counts: map[string]int{"answered": 1}, Trials: []TrialResult{
		{Trial: 1, Err: err}, {Trial: 2, Class: e.Classes[0]}}}
	b, err := json.Marshal(r.Summary())
	require.NoError(t, err)
	var s Summary
	require.NoError(t, json.Unmarshal(b, &s))
	require.Len(t, s.Trials, 2)
	assert.Equal(t, []Failure{{Kind: FailNoClass, Tried: []Miss{{Class: "answered", Step: 2}}}}, s.Trials[0].Failures)
	assert.True(t, strings.HasPrefix(s.Trials[0].Error, "trial 1 fits no class"))
	assert.Empty(t, s.Trials[1].Failures)
	assert.Contains(t, string(b), `"failures":[{"kind":"no class","tried":[{"class":"answered","step":2}]}]`)
}

// TestLadderMismatchStep: a mismatch names the first step no segment fit, with or without repeated
// steps, and one past the last step when segments remain.
func TestLadderMismatchStep(t *testing.T) {
	t.Parallel()
	push := seg(C2S, kcpwire.CmdPush, 0, 0, 9, 0)
	ack := seg(S2C, kcpwire.CmdAck, 0, 1, 0, 0)
	tests := []struct {
		name   string
		ladder Ladder
		segs   []Seg
		step   int
	}{
		{"second step differs", Ladder{Push(C2S), Push(C2S)}, []Seg{push, ack}, 2},
		{"first step differs", Ladder{Ack(S2C), Push(C2S)}, []Seg{push, ack}, 1},
		{"a segment missing", Ladder{Push(C2S), Ack(S2C)}, []Seg{push}, 2},
		{"a segment too many", Ladder{Push(C2S)}, []Seg{push, ack}, 2},
		{"repeated: the step after the run", Ladder{Push(C2S).Repeat(1, 3), Ack(S2C), Ack(S2C)}, []Seg{push, push, ack, push}, 3},
		{"repeated: too many repeats", Ladder{Push(C2S).Repeat(1, 2), Ack(S2C)}, []Seg{push, push, push, ack}, 2},
		{"repeated: segments after the last step", Ladder{Push(C2S).Repeat(0, 2), Ack(S2C)}, []Seg{push, ack, ack}, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var lm *LadderMismatch
			require.True(t, errors.As(tc.ladder.Match(tc.segs), &lm))
			assert.Equal(t, tc.step, lm.Step)
		})
	}
}
