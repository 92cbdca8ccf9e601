package experiments

import (
	"errors"
	"fmt"
	"slices"

	"kcplab/expect"
	"kcplab/harness"
)

// p004-keepalive: p004 with keep-alives on, the case the seed's post reports as broken: "the session is
// never closed, the client's last ACK is never sent and the server keeps retransmitting its response".
//
// Server: p004's (1 s IdleTimeout). Client: p004's without DisableKeepAlives: GET, read the body, return,
// leaving the session idle in the Transport's pool; nobody closes it until the trial's teardown.
//
// Expected ladder:
//
//	c→s PUSH sn=0 una=0 len=N     the request (no "Connection: close")
//	s→c ACK  sn=0 una=1           first flush: ACKs only (cwnd starts at 0)
//	s→c PUSH sn=0 una=1 len=M     the response, within a ms: no Close follows the Write, nothing races it
//	c→s ACK  sn=0 una=1           at the client's next update tick, ~100 ms later, or at once when the
//	                              server's ACK and response shared a datagram (see p001)
//
// and then nothing. The client session, never closed, keeps ticking, so its ACK always leaves; the
// post's missing ACK needs a client that stops before its next tick, such as a program that exits right
// after printing the response. The server closes the idle session by its own IdleTimeout 1 s after the
// response, or hangs after the response as in p004 (kcp-go ignores the past deadline net/http sets to
// abort its background Read) until the role's bound closes it; the wire is the same either way.
var (
	keepaliveIdleClosed = harness.Class{
		Name:        "ACKed at next tick, closed at idle timeout",
		Description: "request, its ACK, the response, its ACK at the client's next tick; the server closed the idle session after 1 s",
		Ladder:      exchangeLadder(ackAtTick),
		Checks: []harness.Check{ackWithResponse(false), expect.ReadGot(harness.Client), httpServerHung(false),
			expect.ReadEndsInTimeout(harness.Server)},
		Timings: []harness.Timing{expect.ReadTimeoutAfter(harness.Server, httpIdle)},
	}
	keepaliveHung = ackedAtTick("ACKed at next tick, server hung",
		"the same ladder; net/http's abort of its background Read never woke kcp-go's Read, so the role's bound closed the session",
		exchangeLadder(ackAtTick), expect.ReadGot(harness.Client), httpServerHung(true))
	keepaliveAckedAtOnce = ackedAtOnce("ACKed at once",
		"the server's ACK and response in one datagram, so the client ACKed at once (the server then closed or hung)", exchangeLadder(ackAtOnce))
	// keepaliveAckAfterRTO: the client, starved for about 200 ms (as under -race with both cores
	// busy), ACKed after the server's retransmission timeout; the server sent the response again.
	keepaliveAckAfterRTO = ackAfterRTO("ACKed after the response's RTO", "response", exchangeLadder(ackAtTick)[:3], expect.ReadGot(harness.Client))
)

func init() {
	register(&harness.Experiment{
		ID:         "p004-keepalive",
		Title:      "net/http over KCP with keep-alives on",
		Question:   "With keep-alives on, is the response over a kcp-go session ACKed, or does the server keep retransmitting it?",
		Answer:     keepaliveAnswer,
		Server:     httpServer,
		Client:     httpClient(true),
		Trials:     200,
		Classes:    []harness.Class{keepaliveIdleClosed, keepaliveHung, keepaliveAckedAtOnce, keepaliveAckAfterRTO},
		Invariants: append(wireInvariants(), expect.AcceptedSessions(1), expect.ReadGot(harness.Server)),
		Measures: []harness.Measure{
			expect.Accepts(),
			expect.SegmentGap("request → response (ms)", 0, 2),
			expect.SegmentGap("response → its ACK (ms)", 2, 3),
			expect.EventGap("server Write → Close (ms)", harness.EventIs(harness.Server, harness.EvWrite), harness.EventIs(harness.Server, harness.EvClose)),
		},
	})
}

func keepaliveAnswer(r *harness.Result) string {
	acked, hung := 0, 0
	for _, c := range append(slices.Clone(r.Experiment.Classes), r.Discovered()...) {
		for _, t := range r.Of(c) {
			acked++
			if len(t.Trace.ServerErr) > 0 && errors.Is(t.Trace.ServerErr[0], errHTTPHung) {
				hung++
			}
		}
	}
	return fmt.Sprintf("ACKed: in %d of %d trials the client, whose session lives on, ACKed the response and nothing was retransmitted; "+
		"the server closed the idle session by its IdleTimeout in %d and hung until its role's bound in %d.", acked, len(r.Trials), acked-hung, hung)
}
