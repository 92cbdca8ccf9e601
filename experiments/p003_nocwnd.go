package experiments

import (
	"fmt"

	"kcplab/expect"
	"kcplab/harness"
	"kcplab/script"
)

// p003-nocwnd: the seed's server with congestion control off (SetNoDelay(0, 100, 0, 1): the same
// interval and resend as the defaults, nc=1). kcp-go's congestion window starts at 0, so a fresh
// session's first flush sends no data; without the window, the Write's own flush sends the response,
// before Close can race it.
//
// From kcp-go v5.7 on, the response does not survive: the Write's flush only queues it for a sender
// goroutine, and the Close discards the queue (the close* classes, classes_close.go).
//
// Expected ladder, in every trial:
//
//	c→s PUSH sn=0 una=0 len=9     the request
//	s→c ACK  sn=0 una=1           the ACK ...
//	s→c PUSH sn=0 una=1 len=N     ... and the response, both from the Write's flush
//	c→s ACK  sn=0 una=1           at once, when the response beats the client's first update tick;
//	                              otherwise at the next tick, ~100 ms later, after the server closed,
//	                              and the listener accepts it as a new, phantom session
var (
	nocwndAckAtOnce = harness.Class{
		Name:        "delivered, ACK at once",
		Description: "the client ACKed the response before its Read took it: at once, as it arrived",
		Ladder:      handshakeLadder(ackAtOnce),
		Checks:      []harness.Check{expect.ReadGot(harness.Client)},
	}
	nocwndAckAtTick = harness.Class{
		Name:        "delivered, ACK at next tick",
		Description: "the client ACKed the response at its next update tick, ~100 ms later, after its Read took it",
		Ladder:      handshakeLadder(ackAtTickAfterRead),
		Checks:      []harness.Check{expect.ReadGot(harness.Client)},
	}
)

// ackAtTickAfterRead is the client's ACK at its next tick once its Read took the response: where the
// datagrams do not tell the tick from an earlier flush, as here, the wnd does (see ackAtTick, kcpgo.go).
var ackAtTickAfterRead = ackAtTick.WithUnread(0)

// nocwndServer is the seed's server on a session with congestion control off: nodelay 0, interval 100
// ms, resend 0, nc 1 (kcp-go's SetNoDelay(0, 100, 0, 1)).
var nocwndServer = func() *script.Script {
	s := handshakeServer(0)
	nodelay, interval, resend, nc := 0, 100, 0, 1
	s.Options = script.Options{NoDelay: &nodelay, IntervalMs: &interval, Resend: &resend, NC: &nc}
	return s
}()

func init() {
	register(closingHandshake(harness.Experiment{
		ID:           "p003-nocwnd",
		Title:        "p003 with the server's congestion window off",
		Question:     "If the server turns congestion control off (nc=1), does the response survive an immediate Close?",
		Answer:       nocwndAnswer,
		ServerScript: nocwndServer,
	}, nocwndAckAtOnce, nocwndAckAtTick))
}

func nocwndAnswer(r *harness.Result) string {
	n := len(r.Trials)
	delivered, phantom := deliveredAndPhantoms(r, nocwndAckAtOnce, nocwndAckAtTick, closeLaterSession)
	if delivered == n {
		return fmt.Sprintf("Yes: the response arrived in %d of %d trials at no cost in time; a client ACK that reached the listener after the Close made it accept a phantom session in %d of them.",
			delivered, n, phantom)
	}
	return fmt.Sprintf("Not with this kcp-go: the response arrived in only %d of %d trials (a phantom session in %d of them); the Close discarded it, "+
		"with its ACK, in %d, and the client's retransmitted request made new sessions in %d.",
		delivered, n, phantom, r.Count(closeLost)+r.Count(closeUnanswered)+r.Count(closeCopyAcked), r.Count(closeUnanswered)+r.Count(closeCopyAcked))
}
