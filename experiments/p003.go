package experiments

import (
	"fmt"

	"kcplab/expect"
	"kcplab/harness"
)

// p003, from the seed post: an echo pair where the server answers once and closes.
//
// Server: Accept; Read once, expect exactly "handshake"; Write time.Now().String() with a 1 s write
// deadline; Close. Client: Write "handshake"; Read with a 1 s deadline until an error.
//
// Expected ladder when the response is delivered (the post's four datagrams):
//
//	c→s PUSH sn=0 una=0 len=9     the request; nothing before it: no handshake
//	s→c ACK  sn=0 una=1           the server's first flush: ACKs only (cwnd starts at 0)
//	s→c PUSH sn=0 una=1 len=N     the response: the Write's flush sent no data, so it leaves with
//	                              the session's next flush, the Close's or the first update tick's
//	c→s ACK  sn=0 una=1           at the client's next update tick, 100 ms after the request
//
// and then nothing: no teardown. The client's Read ends by timeout 1 s after the response.
// When Close's flush loses its race with the session's own shutdown, the response never leaves.
// Rarely (as under the race detector) the server session's first update tick runs before the
// listener feeds it the request, so the Write's flush sends the ACK and the response in one datagram
// and the client ACKs at once (see p001): the "3-datagram case".
//
// kcp-go v5.7 sends through a shared pool of worker goroutines: a flush only queues the datagrams,
// and Close discards what a worker has not sent yet (sess.go:523-541, Close → discardPostProcess,
// postprocess.go:144-151). So the server's Close usually drops its ACK as well as the response:
//
//	c→s PUSH sn=0 una=0 len=9     the request, unacknowledged ...
//	c→s PUSH sn=0 una=0 len=9     ... sent again at +200 ms ...
//	c→s PUSH sn=0 una=0 len=9     ... and +400 ms later; each copy reaches the listener after the
//	                              previous session closed, so each makes a new session that reads
//	                              the request, answers, closes, and drops its answer again
//
// and sometimes the ACK of one copy gets out before its session's Close, which ends the retransmissions.
var p003Delivered = ackedAtTick("delivered",
	"the post's four datagrams: request, its ACK, the response, its ACK", handshakeLadder(ackAtTick), expect.ReadGot(harness.Client))

func init() {
	register(closingHandshake(harness.Experiment{
		ID:           "p003",
		Title:        "the server's Close is not signalled to the client",
		Question:     "When a kcp-go server writes a response and closes, does the client get the response, and does it learn of the Close?",
		Answer:       p003Answer,
		ServerScript: handshakeServer(0),
	}, p003Delivered, closeAckWithResponse))
}

func p003Answer(r *harness.Result) string {
	n := len(r.Trials)
	d, l := r.Count(p003Delivered)+r.Count(closeAckWithResponse)+r.Count(closeLaterSession), r.Count(closeLost)
	silent := r.Count(closeUnanswered) + r.Count(closeCopyAcked) + r.Count(closeLaterSession)
	return fmt.Sprintf("No: the client is never told of the Close (its Read timed out in %d of %d trials, "+
		"never with EOF), and the response itself arrived in only %d of %d trials (%d lost at Close; in %d the Close dropped "+
		"the ACK too and the client's retransmitted request made new server sessions).",
		n-len(r.Failed()), n, d, n, l, silent)
}
