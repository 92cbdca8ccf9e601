package experiments

// The outcomes of an exchange whose server's Close discards what it queued: kcp-go v5.7 sends through a
// shared pool of sender goroutines, and Close drops what they have not sent (v5.7.6 sess.go:523-541,
// postprocess.go:144). The client retransmits its unacknowledged request, and each copy that reaches
// the listener after the previous session closed makes a new session. p003, p003-pause and p003-nocwnd
// share these classes; p004 and close-under-loss, their steps and checks.

import (
	"fmt"
	"time"

	"kcplab/expect"
	"kcplab/harness"
)

var (
	// closeAckWithResponse is the first session's ACK and response in one datagram, both out before
	// its Close: the client ACKed at once (see p001).
	closeAckWithResponse = ackedAtOnce("delivered, ACK with the response",
		"three datagrams: the server's ACK and the response in one, so the client ACKed at once", handshakeLadder(ackAtOnce))
	closeLost = harness.Class{
		Name:        "response lost at Close",
		Description: "request and its ACK only: the server's Close dropped the queued response",
		Ladder:      handshakeLadder(ackAtTick)[:2],
		Checks:      []harness.Check{expect.ReadNothing(harness.Client)},
	}
	closeUnanswered = harness.Class{
		Name:        "nothing answered: each copy of the request made a new session",
		Description: "the server's Close dropped its ACK too; the client sent the request three times and each copy made a new session that answered into the void",
		Ladder:      unansweredRequest(),
		Checks:      []harness.Check{expect.ReadNothing(harness.Client), expect.AcceptedSessions(3)},
	}
	closeCopyAcked = harness.Class{
		Name:        "a copy of the request ACKed, nothing delivered",
		Description: "the first session's Close dropped everything; a later session, made by a copy of the request, got its ACK out before its Close",
		Ladder:      harness.Ladder{requestCopies(2, 3), harness.Ack(harness.S2C).WithSn(0).WithUna(1)},
		Checks:      []harness.Check{expect.ReadNothing(harness.Client)},
	}
	closeLaterSession = harness.Class{
		Name:        "delivered by a later session",
		Description: "the first session's Close dropped everything; a session made by a copy of the request got its ACK and response out",
		Ladder:      answeredByLaterSession(true),
		Checks:      []harness.Check{clientReadALaterAnswer()},
	}
)

// closeClasses are the close classes in the order an experiment lists them, after its own.
var closeClasses = []harness.Class{closeLost, closeUnanswered, closeCopyAcked, closeLaterSession}

// closingHandshake completes e, an experiment of the seed's client against a server that closes right
// after its response (p003, p003-nocwnd): 200 trials of handshakeClient, classes then closeClasses, the
// client's Read ending by its 1 s timeout, and handshakeMeasures.
func closingHandshake(e harness.Experiment, classes ...harness.Class) *harness.Experiment {
	e.ClientScript = handshakeClient
	e.Trials = 200
	e.Classes = append(classes, closeClasses...)
	e.Invariants = append(wireInvariants(), expect.ReadEndsInTimeout(harness.Client))
	e.Timings = []harness.Timing{expect.ReadTimeoutAfter(harness.Client, time.Second)}
	e.Measures = handshakeMeasures
	return &e
}

// unansweredRequest is a request nobody acknowledged: the client sends it at 0 and again at +200 ms
// and +600 ms by its own clock (initial RTO, then rto += rx_rto: kcp.go, flush), three copies before
// its 1 s read deadline; each copy reaches a listener whose session for it was closed, so each makes
// a new session.
func unansweredRequest() harness.Ladder {
	req := harness.Push(harness.C2S).WithSn(0).WithUna(0).WithLen(uint32(len(handshake)))
	return harness.Ladder{req, req.After(initialRTO), req.After(2 * initialRTO)}
}

// requestCopies is the request sent count times (retransmitted unacknowledged), in one step.
func requestCopies(min, max int) harness.Step {
	return harness.Push(harness.C2S).WithSn(0).WithUna(0).Repeat(min, max)
}

// answeredByLaterSession is an exchange in which the first session's Close dropped everything: the
// request went out again, and a session made by a copy got its ACK and answer out; the client ACKs the
// answer unless its session is gone (finalAck).
func answeredByLaterSession(finalAck bool) harness.Ladder {
	l := harness.Ladder{requestCopies(2, 3), harness.Ack(harness.S2C).WithSn(0).WithUna(1), response}
	if finalAck {
		l = append(l, harness.Ack(harness.C2S).WithSn(0).WithUna(1))
	}
	return l
}

// clientReadALaterAnswer checks that the client read exactly what one server session after the first
// wrote: an answer to a copy of its request.
func clientReadALaterAnswer() harness.Check {
	return harness.Check{Name: "the client read the answer of a later session", Fn: func(tr *harness.Trace) error {
		if s := sessionThatWroteWhatClientRead(tr, 2); s > 0 {
			return nil
		}
		return fmt.Errorf("read %d bytes, no later session wrote them", len(tr.BytesRead(harness.Client, 0)))
	}}
}

// sessionThatWroteWhatClientRead returns the first server session from `from` on whose Writes are
// exactly what the client read, or 0 when none is.
func sessionThatWroteWhatClientRead(tr *harness.Trace, from int) int {
	got := tr.BytesRead(harness.Client, 0)
	for s := from; s <= tr.Accepts; s++ {
		if w := tr.BytesWritten(harness.Server, s); len(w) > 0 && string(got) == string(w) {
			return s
		}
	}
	return 0
}

// sessionsReadTheRequest checks that every accepted session that read anything read exactly what the
// client wrote: a session made by a retransmitted request reads it again, one made by a stray ACK
// reads nothing.
func sessionsReadTheRequest() harness.Check {
	return harness.Check{Name: "each server session read the client's request or nothing", Fn: func(tr *harness.Trace) error {
		want := tr.BytesWritten(harness.Client, 0)
		for s := 1; s <= tr.Accepts; s++ {
			if got := tr.BytesRead(harness.Server, s); len(got) > 0 && string(got) != string(want) {
				return fmt.Errorf("server#%d read %d bytes, the client wrote %d", s, len(got), len(want))
			}
		}
		return nil
	}}
}

// deliveredAndPhantoms counts r's trials in classes, and those of them in which the listener accepted
// more than one session: a client ACK that reached it after the server's Close made a phantom.
func deliveredAndPhantoms(r *harness.Result, classes ...harness.Class) (delivered, phantom int) {
	for _, c := range classes {
		for _, t := range r.Of(c) {
			delivered++
			if t.Trace.Accepts > 1 {
				phantom++
			}
		}
	}
	return delivered, phantom
}
