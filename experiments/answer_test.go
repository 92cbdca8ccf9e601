package experiments

import (
	"errors"
	"os"
	"strings"
	"testing"

	"kcplab/harness"
)

// classCount is how many trials of a synthetic run fell in a class.
type classCount struct {
	class harness.Class
	n     int
}

// answerRun is a synthetic run of e: the trials of each class in counts, in order, then failed trials.
// Each trial's trace is trace(class), or an empty one with one accepted session when trace is nil.
func answerRun(e *harness.Experiment, counts []classCount, failed int, trace func(harness.Class) *harness.Trace) *harness.Result {
	r := &harness.Result{Experiment: e, Counts: map[string]int{}}
	for _, c := range e.Classes {
		r.Counts[c.Name] = 0
	}
	add := func(tr harness.TrialResult) {
		tr.Trial = len(r.Trials) + 1
		r.Trials = append(r.Trials, tr)
	}
	for _, cc := range counts {
		for range cc.n {
			tr := &harness.Trace{Accepts: 1}
			if trace != nil {
				tr = trace(cc.class)
			}
			add(harness.TrialResult{Class: cc.class, Trace: tr})
			r.Counts[cc.class.Name]++
		}
	}
	for range failed {
		add(harness.TrialResult{Err: errors.New("fits no class"), Trace: &harness.Trace{Accepts: 1}})
	}
	return r
}

// answerCases are synthetic runs of every experiment with an Answer, and what its sentence must say.
// The counts differ from class to class, so that a sentence that reads the wrong class shows it.
var answerCases = []struct {
	name   string
	id     string // experiment, or variant, id
	counts []classCount
	failed int
	trace  func(harness.Class) *harness.Trace
	wants  []string
	absent []string
}{
	{name: "p001", id: "p001", counts: []classCount{{p001Echoed, 3}, {p001AckAfterRTO, 2}, {p001AckWithEcho, 4}}, failed: 1,
		wants: []string{"in 9 of 10 trials the echo came back and was ACKed (at the client's next update tick in 5, at once in 4)"}},
	{name: "p002", id: "p002", counts: []classCount{{p002Retransmitted, 2}, {p002AckedAtOnce, 3}, {p002AckByClose, 1}, {p002AckByCloseShared, 2}, {p002TickBeforeRead, 1}}, failed: 1,
		wants: []string{"No: in 9 of 10 trials the server ended by its own read timeout", "in 2 of them the client's Close even swallowed"}},
	{name: "p003", id: "p003", counts: []classCount{{p003Delivered, 2}, {closeAckWithResponse, 1}, {closeLost, 3}, {closeUnanswered, 1}, {closeCopyAcked, 1}, {closeLaterSession, 2}}, failed: 1,
		wants: []string{"its Read timed out in 10 of 11 trials", "the response itself arrived in only 5 of 11 trials (3 lost at Close; in 4 the Close dropped the ACK too"}},
	{name: "p003-linger", id: "p003-linger", counts: []classCount{{lingerAckAtTick, 3}, {lingerAckWithResponse, 2}, {lingerAckAfterRTO, 1}}, failed: 2,
		wants: []string{"no phantom session was accepted, in 6 of 8 trials; the price"}},
	{name: "p003-linger with a phantom", id: "p003-linger", counts: []classCount{{lingerAckAtTick, 3}, {lingerAckAfterRTO, 1}, {lingerAfterClose, 2}}, failed: 1,
		wants: []string{"no phantom session was accepted, in 4 of 7 trials (in 2 more the response arrived"}},
	{name: "p003-nocwnd some lost", id: "p003-nocwnd",
		counts: []classCount{{nocwndAckAtOnce, 2}, {nocwndAckAtTick, 3}, {closeLaterSession, 1}, {closeLost, 1}, {closeUnanswered, 2}, {closeCopyAcked, 1}},
		trace:  phantomIn(closeLaterSession),
		wants:  []string{"Not with this kcp-go: the response arrived in only 6 of 10 trials (a phantom session in 1 of them)", "with its ACK, in 4, and", "made new sessions in 3."}},
	{name: "p003-nocwnd all delivered", id: "p003-nocwnd", counts: []classCount{{nocwndAckAtOnce, 4}, {closeLaterSession, 2}}, trace: phantomIn(closeLaterSession),
		wants: []string{"Yes: the response arrived in 6 of 6 trials", "accept a phantom session in 2 of them"}},
	{name: "p003-pause all delivered", id: "p003-pause", counts: []classCount{{pauseDelivered, 4}, {closeAckWithResponse, 1}}, trace: phantomIn(pauseDelivered),
		wants: []string{"Yes: the response arrived in 5 of 5 trials", "made a phantom session in 4 of them"}},
	{name: "p003-pause some lost", id: "p003-pause",
		counts: []classCount{{pauseDelivered, 4}, {closeAckWithResponse, 1}, {closeLost, 2}, {closeUnanswered, 1}, {closeCopyAcked, 3}, {closeLaterSession, 6}},
		wants:  []string{"the first session's response arrived in 5 of 17 trials (6 more from a later session)", "dropped the queued response in 2, and its ACK too in 10."}},
	{name: "p004", id: "p004",
		counts: []classCount{{p004Delivered, 1}, {p004Hung, 2}, {p004AckedAtOnce, 1}, {p004Phantom, 1}, {p004LaterSession, 1}, {p004Lost, 2}, {p004CopyAcked, 1}, {p004Unanswered, 1}},
		wants:  []string{"response in only 6 of 10 trials", "dropped the queued response in 4", "hung after the response in 2,"}},
	{name: "p004-keepalive", id: "p004-keepalive",
		counts: []classCount{{keepaliveIdleClosed, 3}, {keepaliveHung, 2}, {keepaliveAckedAtOnce, 1}, {keepaliveAckAfterRTO, 1}}, failed: 1,
		trace: func(c harness.Class) *harness.Trace {
			if c.Is(keepaliveHung) {
				return &harness.Trace{Accepts: 1, ServerErr: []error{errHTTPHung}}
			}
			return &harness.Trace{Accepts: 1, ServerErr: []error{nil}}
		},
		wants: []string{"in 7 of 8 trials the client", "by its IdleTimeout in 5 and hung until its role's bound in 2."}},
	{name: "close-under-loss", id: "close-under-loss@loss=10%",
		counts: []classCount{{culDelivered, 5}, {culNoRequest, 4}, {culNothingAnswered, 2}, {culLostAtClose, 3}, {culDroppedByLink, 1}, {culTooLate, 6}},
		wants: []string{"losing 10% of the datagrams each way the response arrived in 5 of 21 trials (23.8%)",
			"discarded it (5, in 2 of them with the ACK too", "every response sent (1) or every copy of the request (4)", "after the client gave up (6)."}},
	{name: "dead-link for good", id: "dead-link@blackhole=300ms..", counts: []classCount{{deadForGood, 3}, {deadNotYet, 2}}, failed: 1,
		wants: []string{"Neither side ever learns it: in 5 of 6 trials", "in 3 the client's 20th copy", "(in 2 a slow first exchange"}},
	{name: "dead-link recovered", id: "dead-link@blackhole=300ms..6s", counts: []classCount{{recoveredAfterLimit, 4}, {recoveredBeforeLimit, 1}}, failed: 1,
		wants: []string{"Yes, it recovers: in 4 of 6 trials", "(in 1 more the RTO was longer"}},
	{name: "dead-link recovered, none before the limit", id: "dead-link@blackhole=300ms..6s", counts: []classCount{{recoveredAfterLimit, 4}},
		wants: []string{"Yes, it recovers: in 4 of 4 trials"}, absent: []string{"more the RTO was longer"}},
	{name: "garbage-datagram", id: "garbage-datagram", counts: []classCount{{garbageAll, 3}, {garbageNoOOB, 2}}, failed: 1,
		wants: []string{"In 5 of 6 trials the listener made a session", "and, in 3 of them, of the 12-byte"}},
	{name: "idle-peer", id: "idle-peer", counts: []classCount{{idlePeerNeverTold, 4}}, failed: 1,
		wants: []string{"in 4 of 5 trials the client's Write"}},
	{name: "nobody-listening", id: "nobody-listening", counts: []classCount{{nobodyRetransmitted, 3}}, failed: 1,
		wants: []string{"Never an error but deadlines: in 3 of 4 trials Dial"}},
	{name: "port-reuse", id: "port-reuse", counts: []classCount{{portReuseReplaced, 5}}, failed: 2,
		wants: []string{"in 5 of 7 trials the new conv's"}},
	{name: "server-restart", id: "server-restart", counts: []classCount{{serverRestartAckedNotDelivered, 3}, {serverRestartSentAgain, 2}}, failed: 1,
		trace: func(c harness.Class) *harness.Trace {
			if c.Is(serverRestartSentAgain) {
				return &harness.Trace{Accepts: 2, ServerErr: []error{nil, os.ErrDeadlineExceeded}, TornDown: []bool{false, false}}
			}
			return &harness.Trace{Accepts: 2, ServerErr: []error{nil, nil}, TornDown: []bool{false, true}}
		},
		wants: []string{"No: in 3 of 6 trials the new listener", "in 2 more after a retransmission", "its 1 s Read timed out in 2,"}},
}

// phantomIn gives the trials of class c a second accepted session (a phantom), the others one.
func phantomIn(c harness.Class) func(harness.Class) *harness.Trace {
	return func(x harness.Class) *harness.Trace {
		if x.Is(c) {
			return &harness.Trace{Accepts: 2}
		}
		return &harness.Trace{Accepts: 1}
	}
}

// TestAnswers checks every experiment's Answer on synthetic runs: the sentence says what the counts
// say, and one more trial of a class changes it.
func TestAnswers(t *testing.T) {
	t.Parallel()
	covered := map[string]bool{}
	for _, tc := range answerCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			es, err := Select(tc.id)
			if err != nil || len(es) != 1 {
				t.Fatalf("Select(%q): %d experiments, %v", tc.id, len(es), err)
			}
			e := es[0]
			if e.Answer == nil {
				t.Fatalf("%s has no Answer", e.ID)
			}
			got := e.Answer(answerRun(e, tc.counts, tc.failed, tc.trace))
			for _, w := range tc.wants {
				if !strings.Contains(got, w) {
					t.Errorf("answer lacks %q:\n%s", w, got)
				}
			}
			for _, a := range tc.absent {
				if strings.Contains(got, a) {
					t.Errorf("answer has %q:\n%s", a, got)
				}
			}
			more := append([]classCount(nil), tc.counts...)
			more[0].n++
			if again := e.Answer(answerRun(e, more, tc.failed, tc.trace)); again == got {
				t.Errorf("one more %q trial left the answer as it was:\n%s", more[0].class.Name, got)
			}
		})
		covered[strings.SplitN(tc.id, "@", 2)[0]] = true
	}
	for _, e := range All() {
		if id := strings.SplitN(e.ID, "@", 2)[0]; e.Answer != nil && !covered[id] {
			t.Errorf("%s: its Answer has no case in answerCases", e.ID)
		}
	}
}
