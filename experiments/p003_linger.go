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
// the client ACKs at once (see p001).
//
// The cost: the server session lives 300 ms longer.
var (
	lingerAckAtTick = harness.Class{
		Name:        "delivered, ACK at next tick",
		Description: "request, its ACK, the response, and the client's ACK at its next update tick",
		Ladder:      handshakeLadder(ackAtTick),
		Checks:      []harness.Check{ackWithResponse(false)},
	}
	lingerAckWithResponse = harness.Class{
		Name:        "delivered, ACK with the response",
		Description: "the server's ACK and the response in one datagram, so the client ACKed at once",
		Ladder:      handshakeLadder(ackAtOnce),
		Checks:      []harness.Check{ackWithResponse(true)},
	}
	// lingerAckAfterRTO: the client, starved for over 200 ms (as under -race with both cores busy),
	// ACKed after the server's retransmission timeout; the lingering server sent the response again.
	lingerAckAfterRTO = ackAfterRTO("delivered, ACK after the response's RTO", "response", handshakeLadder(ackAtTick)[:3])
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
		Classes:      []harness.Class{lingerAckAtTick, lingerAckWithResponse, lingerAckAfterRTO},
		// Delivery is deterministic: asserted on every trial, whatever its ACK timing.
		Invariants: append(wireInvariants(),
			expect.ReadGot(harness.Client),
			expect.AcceptedSessions(1),
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
	n := len(r.Trials)
	return fmt.Sprintf("Yes: with a %v linger the response arrived, and no phantom session was accepted, in %d of %d trials; the price is a server session that lives %v longer.",
		p003Linger, n-len(r.Failed()), n, p003Linger)
}
