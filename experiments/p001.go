package experiments

import (
	"fmt"

	"kcplab/expect"
	"kcplab/harness"
)

// p001, the first of the seed's series: an echo pair where both sides only read with a deadline.
//
// Server: the echo loop: Read with a 1 s deadline, write back what was read, repeat; Close when a Read
// fails. Client: Write time.Now().String(); Read with a 1 s deadline until an error; Close.
//
// Expected ladder (the post's four datagrams):
//
//	c→s PUSH sn=0 una=0 len=N     the request; nothing before it: no handshake
//	s→c ACK  sn=0 una=1           the server session's first flush: ACKs only, as cwnd starts at 0 and
//	                              becomes 1 only at the end of a flush (kcp.go:849-853, 989-992)
//	s→c PUSH sn=0 una=1 len=N     the echo, a fraction of a ms later, from the session's other early
//	                              flush: the first update tick is scheduled for "now" by newUDPSession
//	                              (sess.go:263) but runs after two goroutine hops, so usually the Write's
//	                              flush sends the ACK and the tick sends the echo; sometimes the tick
//	                              sends the ACK and the Write the echo. No Close follows the Write, so
//	                              nothing races the echo (unlike p003)
//	c→s ACK  sn=0 una=1           at the client's next update tick, ~100 ms after the echo: the client
//	                              ticks every 100 ms from the Dial and the echo comes back within a ms
//
// Rarely (when the goroutine hops are slow, as under the race detector) the first tick runs before the
// listener feeds the new session the request (sess.go:1267-1268): it sends nothing but sets cwnd to 1,
// so the Write's flush sends the ACK and the echo in one datagram, and the client, whose Input sees
// una advance and a PUSH in one call, flushes its ACK at once (kcp.go:639-641, 723-728).
//
// Either way nothing follows: the client's Read times out 1 s after the echo, the server's 1 s after
// its Write, and neither Close puts anything on the wire (nothing is left to flush), so neither side
// ever hears of the other's Close.
var (
	p001Echoed = ackedAtTick("echoed",
		"the post's four datagrams: request, its ACK, the echo, its ACK at the client's next tick", exchangeLadder(ackAtTick),
		expect.ReadGot(harness.Client), expect.ReadGot(harness.Server))
	p001AckWithEcho = harness.Class{
		Name:        "echoed, ACK with the echo",
		Description: "the server's ACK and the echo in one datagram, so the client ACKed the echo at once",
		Ladder:      exchangeLadder(ackAtOnce),
		Checks:      []harness.Check{expect.ReadGot(harness.Client), expect.ReadGot(harness.Server), ackWithResponse(true)},
	}
	// p001AckAfterRTO is the race a stalled client loses: its next tick ran after the server's
	// retransmission timeout (200 ms), so the echo went out again and was ACKed once more at the tick
	// after. It takes a stall of the process of over 100 ms.
	p001AckAfterRTO = ackAfterRTO("echoed, ACK after the echo's RTO", "echo", exchangeLadder(ackAtTick)[:3],
		expect.ReadGot(harness.Client), expect.ReadGot(harness.Server))
)

func init() {
	register(&harness.Experiment{
		ID:           "p001",
		Title:        "an echo exchange ends only by read timeouts",
		Question:     "When a kcp-go client and an echo server both read with a 1 s deadline, how does their exchange end?",
		Answer:       p001Answer,
		ServerScript: echoScript,
		ClientScript: requestScript(timeText, echoDeadline),
		Trials:       200,
		Classes:      []harness.Class{p001Echoed, p001AckWithEcho, p001AckAfterRTO},
		Invariants: append(wireInvariants(),
			expect.AcceptedSessions(1),
			expect.ReadEndsInTimeout(harness.Client),
			expect.ReadEndsInTimeout(harness.Server),
		),
		Timings: []harness.Timing{
			expect.ReadTimeoutAfter(harness.Client, echoDeadline),
			expect.ReadTimeoutAfter(harness.Server, echoDeadline),
		},
		Measures: []harness.Measure{
			expect.Accepts(),
			expect.SegmentGap("request → its ACK (ms)", 0, 1),
			expect.SegmentGap("request → echo (ms)", 0, 2),
			expect.SegmentGap("echo → its ACK (ms)", 2, 3),
			expect.EventGap("server Write → its Read timeout (ms)", harness.EventIs(harness.Server, harness.EvWrite), serverReadFailed),
		},
	})
}

func p001Answer(r *harness.Result) string {
	tick, once := r.Count(p001Echoed)+r.Count(p001AckAfterRTO), r.Count(p001AckWithEcho)
	return fmt.Sprintf("Only by read timeouts: in %d of %d trials the echo came back and was ACKed (at the client's next update tick in %d, "+
		"at once in %d), then both Reads timed out 1 s later and neither Close put anything on the wire.", tick+once, len(r.Trials), tick, once)
}
