package experiments

import (
	"fmt"
	"time"

	"kcplab/expect"
	"kcplab/harness"
)

// p003-linger: the seed's server with the smallest change that makes Close graceful: after its Write
// it lingers for 300 ms (three update intervals) before Close, by reading with a deadline, so it also
// hears anything the client might still say.
//
// Expected ladder, in every trial:
//
//	c→s PUSH sn=0 una=0 len=9     the request
//	s→c ACK  sn=0 una=1           the server's first flush: ACKs only (cwnd starts at 0)
//	s→c PUSH sn=0 una=1 len=N     the response, at the session's next flush (no Close to race with)
//	c→s ACK  sn=0 una=1           at the client's next update tick, 100 ms after its Dial: before
//	                              the server closes, so the listener makes no phantom session
//
// or, rarely (as under the race detector), the server's ACK and response share one datagram and
// the client ACKs at once (see p001). A client starved past the server's retransmission timeout ACKs
// the response again after the retransmission (or, when both copies reached it before its next
// flush, once for both); when that ACK comes after the server's Close, the listener makes a phantom
// session of it, as in p003: the linger covers three update intervals, not a stall longer than one.
//
// The cost: the server session lives 300 ms longer.
var (
	lingerAckAtTick = ackedAtTick("delivered, ACK at next tick",
		"request, its ACK, the response, and the client's ACK at its next update tick", handshakeLadder(ackAtTick), expect.AcceptedSessions(1))
	lingerAckWithResponse = harness.Class{
		Name:        "delivered, ACK with the response",
		Description: "the server's ACK and the response in one datagram, so the client ACKed at once",
		Ladder:      handshakeLadder(ackAtOnce),
		Checks:      []harness.Check{ackWithResponse(true), expect.AcceptedSessions(1)},
	}
	// lingerAckAfterRTO: the client, starved for over 200 ms (as under -race with both cores busy),
	// ACKed after the server's retransmission timeout; the lingering server sent the response again.
	lingerAckAfterRTO = ackAfterRTO("delivered, ACK after the response's RTO", "response", handshakeLadder(ackAtTick)[:3],
		expect.AcceptedSessions(1))
	// lingerResentBeforeAck: the client, starved longer still, had not ACKed at all by the server's
	// retransmission timeout: the response went out twice before the client ACKed both copies.
	lingerResentBeforeAck = harness.Class{
		Name:        "delivered, response sent again before the client's ACK",
		Description: "the client had not ACKed by the server's retransmission timeout (a side starved, or a longer update interval): the response was sent again, and the client ACKed both copies",
		Ladder:      resentBeforeAck(handshakeLadder(ackAtTick)[:3]),
		Checks:      []harness.Check{expect.AcceptedSessions(1)},
	}
	// lingerResentAckedOnce: as lingerResentBeforeAck, with the client's next flush after both copies
	// had arrived, so one ACK answered both (a stall of the order of a tick delayed the flush past the
	// retransmission: with a longer update interval, a shorter stall does).
	lingerResentAckedOnce = harness.Class{
		Name:        "delivered, response sent again before the client's ACK, one ACK for both copies",
		Description: "as \"response sent again before the client's ACK\", but both copies arrived before the client's next flush, which sends one ACK of a segment it already has (kcp.go:794-795)",
		Ladder:      resentAckedOnce(handshakeLadder(ackAtTick)[:3]),
		Checks:      []harness.Check{expect.AcceptedSessions(1)},
	}
	// lingerResentBeforeAckAfterClose: as lingerResentBeforeAck, and the ACK of the second copy reached
	// the server after its Close, so the listener accepted it as a new session.
	lingerResentBeforeAckAfterClose = harness.Class{
		Name:        "delivered, response sent again before the client's ACK, the last ACK after the server's Close",
		Description: "as \"response sent again before the client's ACK\", and the client's ACK of the second copy reached the listener after the server's Close, which accepted it as a new session",
		Ladder:      lingerResentBeforeAck.Ladder,
		Checks:      []harness.Check{expect.AcceptedSessions(2)},
	}
	// lingerAfterClose: as lingerAckAfterRTO, and the ACK of the retransmission reached the server after
	// its Close, so the listener accepted it as a new session.
	lingerAfterClose = ackAfterRTO("delivered, ACK after the response's RTO and the server's Close", "response",
		handshakeLadder(ackAtTick)[:3], expect.AcceptedSessions(2))
)

func init() {
	register(&harness.Experiment{
		ID:           "p003-linger",
		Title:        "p003 with a graceful close: linger 300 ms before Close",
		Question:     "Does lingering for three update intervals between the server's Write and its Close deliver the response in every trial, and what does it cost?",
		Answer:       lingerAnswer,
		ServerScript: handshakeServer(p003Linger),
		ClientScript: handshakeClient,
		Trials:       200,
		Classes: []harness.Class{lingerAckAtTick, lingerAckWithResponse, lingerAckAfterRTO, lingerResentBeforeAck, lingerResentAckedOnce,
			lingerResentBeforeAckAfterClose, lingerAfterClose},
		// Delivery is deterministic: asserted on every trial, whatever its ACK timing.
		Invariants: append(wireInvariants(),
			expect.ReadGot(harness.Client),
			expect.ReadEndsInTimeout(harness.Client),
		),
		Timings: []harness.Timing{
			expect.ReadTimeoutAfter(harness.Client, time.Second),
			lingerCost,
		},
		Measures: handshakeMeasures,
	})
}

// lingerCost is the price of the linger: from the server's Write to its Close, which the role starts
// p003Linger after the Write (a read deadline), so never earlier.
var lingerCost = harness.Timing{
	Name:       fmt.Sprintf("server Write → Close (+%v)", p003Linger),
	Want:       p003Linger,
	NeverEarly: true,
	Measure: func(tr *harness.Trace) (time.Duration, time.Duration, bool) {
		var w, c *harness.Event
		for i, e := range tr.Events {
			switch {
			case e.Side == harness.Server && e.Kind == harness.EvWrite && w == nil:
				w = &tr.Events[i]
			case e.Side == harness.Server && e.Kind == harness.EvClose && w != nil && c == nil:
				c = &tr.Events[i]
			}
		}
		if w == nil || c == nil {
			return 0, 0, false
		}
		return c.Time.Sub(w.Time), tr.Rel(c.Time), true
	},
}

// p003Linger is how long the graceful server waits between Write and Close.
const p003Linger = 300 * time.Millisecond

func lingerAnswer(r *harness.Result) string {
	n, phantom := len(r.Trials), r.Count(lingerAfterClose)+r.Count(lingerResentBeforeAckAfterClose)
	s := fmt.Sprintf("Yes: with a %v linger the response arrived, and no phantom session was accepted, in %d of %d trials",
		p003Linger, n-len(r.Failed())-phantom, n)
	if phantom > 0 {
		s += fmt.Sprintf(" (in %d more the response arrived, but the client, starved past the server's retransmission timeout, ACKed it again after the Close: a phantom session)", phantom)
	}
	return s + fmt.Sprintf("; the price is a server session that lives %v longer.", p003Linger)
}
