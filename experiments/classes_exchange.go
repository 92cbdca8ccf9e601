package experiments

// The outcomes of one request/response exchange that delivered the response (the echo series, the
// seed's "handshake" and net/http), told apart by how the client's ACK of the response left; and the
// handshake exchange as p003 and its variants see it and measure it.

import (
	"fmt"

	"kcplab/expect"
	"kcplab/harness"
)

// ackedAtOnce is the class of an exchange, ladder l, whose client read the response and ACKed it at
// once: the server's ACK and the response came in one datagram (ackWithResponse), so the client's
// Input flushed its ACK.
func ackedAtOnce(name, description string, l harness.Ladder) harness.Class {
	return harness.Class{Name: name, Description: description, Ladder: l,
		Checks: []harness.Check{expect.ReadGot(harness.Client), ackWithResponse(true)}}
}

// ackedAtTick is the class of an exchange, ladder l, whose server's ACK and response travelled in
// separate datagrams (ackWithResponse), so the client's ACK of the response waited for its next update
// tick; checks are the class's own.
func ackedAtTick(name, description string, l harness.Ladder, checks ...harness.Check) harness.Class {
	return harness.Class{Name: name, Description: description, Ladder: l,
		Checks: append([]harness.Check{ackWithResponse(false)}, checks...)}
}

// ackAfterRTO is the class of an exchange, ladder l up to the server's response (what: "echo" or
// "response"), whose client ACK came after the server's retransmission timeout (lateAckRetransmitted):
// the client was starved that long.
func ackAfterRTO(name, what string, l harness.Ladder, checks ...harness.Check) harness.Class {
	return harness.Class{
		Name: name,
		Description: fmt.Sprintf("the server had not taken the client's ACK by its retransmission timeout (a side starved for 100-200 ms): "+
			"the %s was sent again and ACKed again", what),
		Ladder: lateAckRetransmitted(l),
		Checks: checks,
	}
}

// handshakeLadder is the request/response exchange of p003, step by step, ending with the client's ACK
// of the response (ackAtTick or ackAtOnce).
func handshakeLadder(finalAck harness.Step) harness.Ladder {
	l := exchangeLadder(finalAck)
	l[0] = l[0].WithLen(uint32(len(handshake)))
	return l
}

// handshakeMeasures are reported per class for p003 and its variants.
var handshakeMeasures = []harness.Measure{
	expect.Accepts(),
	expect.SegmentGap("request → its ACK (ms)", 0, 1),
	expect.SegmentGap("request → response (ms)", 0, 2),
	expect.SegmentGap("response → its ACK (ms)", 2, 3),
	expect.SegmentGap("request → the client's ACK of the response (ms)", 0, 3),
	expect.EventGap("server Write → Close returned (ms)", harness.EventIs(harness.Server, harness.EvWrite), harness.EventIs(harness.Server, harness.EvClose)),
}
