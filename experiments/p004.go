package experiments

import (
	"fmt"

	"kcplab/expect"
	"kcplab/harness"
)

// p004, from the seed's series: net/http over KCP with keep-alives off.
//
// Server: an http.Server serving the accepted session through a one-connection listener; its handler
// answers a small JSON dump of the request. The role returns once net/http has closed the session, or
// closes it after 1.5 s. Client: an http.Client (1 s timeout) whose Transport dials the trial's
// session, once, with DisableKeepAlives, so the request says "Connection: close"; GET, read the body,
// wait for the Transport to close the session.
//
// On "Connection: close" net/http closes the session as soon as the response is written (its 500 ms
// rstAvoidanceDelay only follows an unread request body), so the server is p003's: Write, Close.
// Expected ladders:
//
//	delivered                       c→s PUSH sn=0 una=0 len=N    the request
//	                                s→c ACK  sn=0 una=1          first flush: ACKs only (cwnd starts at 0)
//	                                s→c PUSH sn=0 una=1 len=M    the response, from the first update tick
//	                                                             or from the Close's flush
//
// and no ACK of the response: the Transport closes the client session as soon as it has the body,
// and that Close drops the ACK it flushes (see p002; the seed's capture has it 0.2 ms after the
// response). The server is already closed, so nothing is retransmitted.
//
//	response lost at Close          the request and its ACK only: the Close's flush lost its race with
//	                                the session's shutdown (see p003); the client's Get times out
//	server hung after the response  "delivered", then the response again +200, +400, +600 ms later
//	delivered, ACKed at once        "delivered", then c→s ACK within a ms, which reached the server
//	                                before its Close: either the server's ACK and response shared a
//	                                datagram and the client's Input flushed its ACK (see p001), or,
//	                                more rarely, the client's Close won its race (see p002)
//	ACK after Close: phantom        the same ladder, but the client's ACK reached the listener after the
//	                                server's Close, and the listener accepted it as a new session
//
// The hang: while the handler runs, net/http reads in the background with no read deadline
// (connReader.startBackgroundRead), and after the response it aborts that Read by setting a past
// deadline (abortPendingRead). kcp-go's Read re-reads its deadline only when it already had one
// (sess.go:342-351), so if the background Read was already blocked, the abort never wakes it and the
// server holds the session, retransmitting the unacknowledged response, until the role's bound
// closes it. (When the client ACKed at once, a hang leaves nothing to retransmit and no trace on the
// wire; "delivered, ACKed at once" does not tell the two apart.)
// p004ClientAck is the client's ACK of the response, flushed by its Input (its full window less one)
// or by its Close (the full window): p004 does not tell the two apart.
var p004ClientAck = harness.Ack(harness.C2S).WithSn(0).WithUna(1).After(0)

var (
	p004Delivered = harness.Class{
		Name:        "delivered",
		Description: "request, its ACK, the response; no ACK of it: the client's Close swallowed it",
		Ladder:      exchangeLadder(p004ClientAck)[:3],
		Checks:      []harness.Check{expect.ReadGot(harness.Client), httpServerHung(false), expect.AcceptedSessions(1)},
	}
	p004Lost = harness.Class{
		Name:        "response lost at Close",
		Description: "request and its ACK only: the server's Close dropped the queued response",
		Ladder:      exchangeLadder(p004ClientAck)[:2],
		Checks:      []harness.Check{expect.ReadNothing(harness.Client), httpServerHung(false), expect.AcceptedSessions(1)},
	}
	p004Hung = harness.Class{
		Name:        "server hung after the response",
		Description: "the response, then retransmissions: net/http's abort of its background Read never woke kcp-go's Read",
		Ladder: append(exchangeLadder(p004ClientAck)[:3:3],
			harness.Push(harness.S2C).WithSn(0).WithUna(1).After(initialRTO),
			harness.Push(harness.S2C).WithSn(0).WithUna(1).After(2*initialRTO),
			harness.Push(harness.S2C).WithSn(0).WithUna(1).After(3*initialRTO)),
		Checks: []harness.Check{expect.ReadGot(harness.Client), httpServerHung(true), expect.AcceptedSessions(1)},
	}
	p004AckedAtOnce = harness.Class{
		Name:        "delivered, ACKed at once",
		Description: "the client's ACK left within a ms: its Input flushed it (ACK and response in one datagram) or its Close won its race",
		Ladder:      exchangeLadder(p004ClientAck),
		Checks:      []harness.Check{expect.ReadGot(harness.Client), expect.AcceptedSessions(1)},
	}
	p004Phantom = harness.Class{
		Name:        "ACK after Close: phantom session",
		Description: "as \"delivered, ACKed at once\", but the ACK reached the listener after the server's Close and made a new session",
		Ladder:      exchangeLadder(p004ClientAck),
		Checks:      []harness.Check{expect.ReadGot(harness.Client), expect.AcceptedSessions(2)},
	}
	// kcp-go v5.7: the first session's Close discarded its ACK and response (see p003); the client
	// retransmitted the request, a later session answered it, and the client got that answer.
	p004LaterSession = harness.Class{
		Name:        "delivered by a later session",
		Description: "the first session's Close dropped its ACK and response; a retransmitted request made a new session, whose response arrived",
		Ladder:      answeredByLaterSession(false),
		Checks:      []harness.Check{clientReadALaterAnswer()},
	}
	p004Unanswered = harness.Class{
		Name:        "nothing answered: each copy of the request made a new session",
		Description: "the server's Close dropped its ACK and response; every copy of the request made a new session whose Close dropped its answer too",
		Ladder:      harness.Ladder{requestCopies(2, 3)},
		Checks:      []harness.Check{expect.ReadNothing(harness.Client)},
	}
	p004CopyAcked = harness.Class{
		Name:        "a copy of the request ACKed, nothing delivered",
		Description: "the first session's Close dropped everything; a later session got its ACK out but not its response",
		Ladder:      harness.Ladder{requestCopies(2, 3), harness.Ack(harness.S2C).WithSn(0).WithUna(1)},
		Checks:      []harness.Check{expect.ReadNothing(harness.Client)},
	}
)

func init() {
	register(&harness.Experiment{
		ID:         "p004",
		Title:      "net/http over KCP with keep-alives off",
		Question:   "Does a net/http request over a kcp-go session get its response when keep-alives are off?",
		Answer:     p004Answer,
		Server:     httpServer,
		Client:     httpClient(false),
		Trials:     200,
		Classes:    []harness.Class{p004Delivered, p004Lost, p004Hung, p004AckedAtOnce, p004Phantom, p004LaterSession, p004CopyAcked, p004Unanswered},
		Invariants: append(wireInvariants(), sessionsReadTheRequest()),
		Measures: []harness.Measure{
			expect.Accepts(),
			expect.SegmentGap("request → its ACK (ms)", 0, 1),
			expect.SegmentGap("request → response (ms)", 0, 2),
			expect.EventGap("server Write → Close (ms)", harness.EventIs(harness.Server, harness.EvWrite), harness.EventIs(harness.Server, harness.EvClose)),
			responseRetransmissions(),
		},
	})
}

func p004Answer(r *harness.Result) string {
	got := r.Count(p004Delivered) + r.Count(p004Hung) + r.Count(p004AckedAtOnce) + r.Count(p004Phantom) + r.Count(p004LaterSession)
	return fmt.Sprintf("The client got its response in only %d of %d trials: net/http closes the session right after writing it, "+
		"and kcp-go's Close dropped the queued response in %d (the client's Get timed out); the server hung after the response in %d, "+
		"retransmitting it until its role closed the session.", got, len(r.Trials), r.Count(p004Lost)+r.Count(p004CopyAcked)+r.Count(p004Unanswered), r.Count(p004Hung))
}
