package experiments

import (
	"fmt"

	"kcplab/expect"
	"kcplab/harness"
	"kcplab/script"
)

// p002, from the seed's series: the client closes as soon as it has its echo; does the server notice?
//
// Server: p001's echo loop (Read with a 1 s deadline, write back, repeat; Close when a Read fails).
// Client: Write time.Now().String(); Read with a 1 s deadline until it has as many bytes as it wrote;
// Close.
//
// Expected ladder:
//
//	c→s PUSH sn=0 una=0 len=N     the request
//	s→c ACK  sn=0 una=1           the server's first flush: ACKs only (cwnd starts at 0), as in p001
//	s→c PUSH sn=0 una=1 len=N     the echo, from the other early flush, as in p001
//	s→c PUSH sn=0 una=1 len=N     +200 ms: the echo again, as its ACK never came (initial RTO 200 ms,
//	                              kcp.go:37; the server has no RTT sample, so rx_rto stays 200)
//	s→c PUSH sn=0 una=1 len=N     +400 ms: and again (linear back-off, rto += rx_rto, kcp.go:918); the
//	                              next one would come 600 ms later, after the server's Close
//
// The client's ACK of the echo is missing. The seed's capture has it 0.1 ms after the echo, flushed by
// the client's Close. In kcp-go v5.6.72 Close closes the session's die channel before that flush
// (sess.go:463-478), so the output callback and the sender goroutine drop the ACK (sess.go:236-243,
// 790-796), and the client's socket is closed right after (sess.go:486-487); the client's update tick
// never falls between its Read and its Close. The retransmissions go to a closed port and nothing
// tells the server: its Read times out 1 s after its Write, exactly as in p001.
//
// Rarely (as under the race detector) the server's ACK and echo share a datagram, as in p001's
// second class; then the client's Input flushes its ACK at once, before the Read returns (it
// advertises wnd 31, the echo still queued), that ACK leaves before the Close, and nothing is
// retransmitted. More rarely still (also under the race detector) the datagrams are separate and the
// client's ACK leaves at once all the same: the sender goroutine took the Close's ACK and sent it
// before the socket closed. The server's Read times out all the same.
//
// A client whose Input does not flush (the C reference queues its ACKs for the next update, ikcp.c:828)
// sends its ACK with its Close's flush, whether the server's ACK and the echo came apart or in one
// datagram.
var (
	p002Retransmitted = harness.Class{
		Name:        "echo retransmitted",
		Description: "request, its ACK, the echo, and the echo twice more: the client's ACK died with its Close",
		Ladder: harness.Ladder{
			harness.Push(harness.C2S).WithSn(0).WithUna(0),
			harness.Ack(harness.S2C).WithSn(0).WithUna(1),
			harness.Push(harness.S2C).WithSn(0).WithUna(1),
			harness.Push(harness.S2C).WithSn(0).WithUna(1).After(initialRTO),
			harness.Push(harness.S2C).WithSn(0).WithUna(1).After(2 * initialRTO),
		},
		Checks: []harness.Check{expect.ReadGot(harness.Client)},
	}
	p002AckedAtOnce = ackedAtOnce("echo ACKed at once",
		"the server's ACK and the echo in one datagram, so the client ACKed the echo before its Close", exchangeLadder(ackAtOnce))
	p002AckByClose = harness.Class{
		Name:        "ACK sent by the client's Close",
		Description: "the echo and the server's ACK in two datagrams, yet the client's ACK left after its Read: its Close's flush won the race",
		Ladder:      exchangeLadder(ackByClose),
		Checks:      []harness.Check{expect.ReadGot(harness.Client), ackWithResponse(false)},
	}
	p002AckByCloseShared = harness.Class{
		Name:        "ACK sent by the client's Close after a shared datagram",
		Description: "the server's ACK and the echo in one datagram, and the client's ACK left after its Read: a client whose Input does not flush (ikcp.c) ACKs with its Close",
		Ladder:      exchangeLadder(ackByClose),
		Checks:      []harness.Check{expect.ReadGot(harness.Client), ackWithResponse(true)},
	}
	// p002TickBeforeRead: on a starved machine (both cores busy, -race) the client's update tick can
	// run while its woken Read still waits for a CPU: the tick's ACK, one below the full window, leaves
	// before the Close.
	p002TickBeforeRead = harness.Class{
		Name:        "ACK at the client's tick, before its Read took the echo",
		Description: "the echo and the server's ACK in two datagrams; the client's update tick flushed its ACK while its starved Read had not yet taken the echo",
		Ladder:      exchangeLadder(ackAtTick.WithUnread(1)),
		Checks:      []harness.Check{expect.ReadGot(harness.Client), ackWithResponse(false)},
	}
)

// ackByClose is the client's ACK flushed by its Close right after its Read took the response (see
// kcpgo.go for the other ways the ACK leaves).
var ackByClose = harness.Ack(harness.C2S).WithSn(0).WithUna(1).WithUnread(0).After(0)

func init() {
	register(&harness.Experiment{
		ID:           "p002",
		Title:        "the client's Close is not signalled to the server",
		Question:     "When a kcp-go client closes right after reading its echo, does the echo server learn of the Close?",
		Answer:       p002Answer,
		ServerScript: echoScript,
		ClientScript: p002Client,
		Trials:       200,
		Classes:      []harness.Class{p002Retransmitted, p002AckedAtOnce, p002AckByClose, p002AckByCloseShared, p002TickBeforeRead},
		Invariants:   append(wireInvariants(), expect.AcceptedSessions(1), expect.ReadEndsInTimeout(harness.Server)),
		Timings:      []harness.Timing{expect.ReadTimeoutAfter(harness.Server, echoDeadline)},
		Measures: []harness.Measure{
			expect.Accepts(),
			expect.SegmentGap("request → echo (ms)", 0, 2),
			expect.SegmentGap("echo → 1st retransmission (ms)", 2, 3),
			expect.SegmentGap("echo → 2nd retransmission (ms)", 2, 4),
			responseRetransmissions(),
			expect.EventGap("client Close → server's Read timeout (ms)", harness.EventIs(harness.Client, harness.EvClose), serverReadFailed),
		},
	})
}

// p002Client writes the time, reads until it has as many bytes back (1 s deadline per Read), and closes.
var p002Client = &script.Script{Actions: []script.Action{
	{Do: script.DoWrite, Data: timeText},
	{Do: script.DoRead, UntilBytes: len(timeText), DeadlineMs: msOf(echoDeadline)},
	{Do: script.DoClose},
}}

func p002Answer(r *harness.Result) string {
	retx := r.Count(p002Retransmitted)
	acked := r.Count(p002AckedAtOnce) + r.Count(p002AckByClose) + r.Count(p002AckByCloseShared) + r.Count(p002TickBeforeRead)
	return fmt.Sprintf("No: in %d of %d trials the server ended by its own read timeout 1 s after its echo; in %d of them the client's "+
		"Close even swallowed its final ACK, so the server sent the echo twice more into a closed socket.", retx+acked, len(r.Trials), retx)
}
