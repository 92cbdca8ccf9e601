package experiments

import (
	"fmt"
	"time"

	"kcplab/expect"
	"kcplab/harness"
	"kcplab/script"
)

// p003-pause: the seed's server with a pause of 1 ms between its Write and its Close, a sleep in
// which its goroutine blocks. In kcp-go v5.7 the Write's flush only queues the datagrams for a shared
// pool of sender goroutines, and Close discards what none has taken (classes_close.go); a goroutine
// that blocks lets a sender run. Is that enough, or does the response need the three update intervals
// of p003-linger?
//
// Server: Accept; Read once, expect exactly "handshake"; Write the time; sleep 1 ms; Close. Client:
// Write "handshake"; Read with a 1 s deadline until an error.
//
// Expected ladder when the pause is enough (p003's four datagrams):
//
//	c→s PUSH sn=0 una=0 len=9     the request
//	s→c ACK  sn=0 una=1           the server's first flush: ACKs only (cwnd starts at 0)
//	s→c PUSH sn=0 una=1 len=N     the response, at the session's next flush
//	c→s ACK  sn=0 una=1           at the client's next update tick, 100 ms after the request: after
//	                              the server's Close, so the listener accepts it as a phantom session
//
// or, when the pause was not enough, one of p003's Close races (the close* classes).
var pauseDelivered = ackedAtTick("delivered",
	"request, its ACK, the response, and the client's ACK at its next update tick", handshakeLadder(ackAtTick), expect.ReadGot(harness.Client))

// p003Pause is the server's pause between its Write and its Close.
const p003Pause = time.Millisecond

// pauseServer is the seed's server with a sleep of p003Pause before its Close.
var pauseServer = func() *script.Script {
	s := handshakeServer(0)
	closeAt := len(s.Actions) - 1
	s.Actions = append(s.Actions[:closeAt:closeAt], script.Action{Do: script.DoSleep, Ms: msOf(p003Pause)}, s.Actions[closeAt])
	return s
}()

func init() {
	register(closingHandshake(harness.Experiment{
		ID:           "p003-pause",
		Title:        "p003 with a pause of 1 ms between the server's Write and its Close",
		Question:     "If the server sleeps 1 ms between its Write and its Close, does the response arrive?",
		Answer:       pauseAnswer,
		ServerScript: pauseServer,
	}, pauseDelivered, closeAckWithResponse))
}

func pauseAnswer(r *harness.Result) string {
	n := len(r.Trials)
	first, phantom := deliveredAndPhantoms(r, pauseDelivered, closeAckWithResponse)
	later := r.Count(closeLaterSession)
	if first == n {
		return fmt.Sprintf("Yes: the response arrived in %d of %d trials, each time from the first session; the client's ACK reached the listener after the Close and made a phantom session in %d of them.",
			first, n, phantom)
	}
	return fmt.Sprintf("Not always: the first session's response arrived in %d of %d trials (%d more from a later session); "+
		"the Close dropped the queued response in %d, and its ACK too in %d.",
		first, n, later, r.Count(closeLost), r.Count(closeUnanswered)+r.Count(closeCopyAcked)+later)
}
