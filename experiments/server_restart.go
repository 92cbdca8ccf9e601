package experiments

import (
	"fmt"
	"net"
	"time"

	"kcplab/expect"
	"kcplab/harness"
	"kcplab/kcpwire"
)

// server-restart (kcp-go issues #195, #261): the server restarts on the same port while a client keeps
// its session. Is the client's next message delivered to the new server?
//
// Server: echo loop (Read with a 1 s deadline, write back, repeat). Client: one echo exchange
// ("hello"), idle 200 ms; the experiment kills the server (harness.Env.KillServer: its socket closed,
// no Close) and at once starts a new listener on the same port (harness.Env.RestartServer); the
// client, which kept its session, writes "second" and Reads with a 1 s deadline, then closes.
//
// Expected ladder:
//
//	c→s PUSH sn=0 una=0           "hello"
//	s→c ACK  sn=0 una=1
//	s→c PUSH sn=0 una=1           the echo
//	c→s ACK  sn=0 una=1           (firstExchange)
//	                              -- the server restarts on the same port --
//	c→s PUSH sn=1 una=1           "second": the new listener knows no session from this address, so
//	                              any datagram of >= 24 bytes with a conv makes one (sess.go:1341-1367),
//	                              with the client's conv, expecting sn 0 (rcv_nxt 0)
//	s→c ACK  sn=1 una=0           the new session ACKs sn 1, as it is within its receive window
//	                              (kcp.go:666-667), and keeps it in rcv_buf: only sn == rcv_nxt moves
//	                              to the receive queue (kcp.go:584-586), and sn 0 will never come
//	c→s ACK  sn=0 una=1 ×0-1      the ACK of a retransmitted echo that reached the client after its
//	                              Write of "second" (echoReAckedLate)
//
// The ACK removes sn 1 from the client's send buffer, so nothing is retransmitted and nothing ever
// tells either side: the new server's Read (server#2) times out with nothing read, and the client's
// Read times out. The new session's una=0 ("I have nothing yet") is the only trace of the loss on the
// wire, and kcp-go does not act on a una below its snd_una.
var (
	serverRestartAckedNotDelivered = harness.Class{
		Name:        "ACKed by the new server, never delivered",
		Description: "the new listener made a session for the old client that ACKed its message (una=0) and never gave it to Read",
		Ladder:      append(firstExchange(), nextMessage(serverRestartMsg), harness.Ack(harness.S2C).WithSn(1).WithUna(0), echoReAckedLate),
		Checks:      serverRestartChecks,
	}
	// serverRestartSentAgain is the same outcome when the client's RTO (~100 ms after the first
	// exchange) ran out before the new session's ACK came back: a stall of the process between the
	// message and the ACK, so it is rare. The new session ACKs every copy (kcp.go:666-667).
	serverRestartSentAgain = harness.Class{
		Name:        "ACKed by the new server after a retransmission, never delivered",
		Description: "as the first class, but the message went out again before the new session's ACK came back (a stalled process), and each copy was ACKed",
		Ladder: append(firstExchange(),
			nextMessage(serverRestartMsg),
			harness.Ack(harness.S2C).WithSn(1).WithUna(0).Repeat(0, 3),
			nextMessage(serverRestartMsg).Repeat(1, 3),
			harness.Ack(harness.S2C).WithSn(1).WithUna(0).Repeat(1, 4),
			echoReAckedLate),
		Checks: serverRestartChecks,
	}
	serverRestartChecks = []harness.Check{
		expect.AcceptedSessions(2),
		serverReadNothing(2),
		serverRoleEnded(2, harness.OutcomeTimeout, harness.OutcomeTornDown), // its 1 s Read deadline and the trial's end are close
		clientReadTimedOutAfter("the client's Read after the restart timed out with nothing read", "the restart",
			func(e harness.Event) bool { return e.Kind == harness.EvRestart }),
	}
)

const serverRestartMsg = "second"

func init() {
	register(&harness.Experiment{
		ID:       "server-restart",
		Title:    "a server restarted on the same port ACKs the old client's message and never delivers it",
		Question: "When the server restarts on the same port while a client keeps its session, is the client's next message delivered to the new server?",
		Answer:   serverRestartAnswer,
		Server:   echoServer,
		Client:   serverRestartClient,
		Trials:   200,
		Timeout:  5 * time.Second,
		Classes:  []harness.Class{serverRestartAckedNotDelivered, serverRestartSentAgain},
		Invariants: append(wireInvariants(),
			oneConvOnTheWire(),
		),
		Timings: []harness.Timing{
			expect.ReadTimeoutAfter(harness.Client, echoDeadline),
		},
		Measures: []harness.Measure{
			expect.Accepts(),
			serverRestartAckGap,
			serverRestartAckedSn1,
			expect.EventGap("restart → the new session accepted (ms)", isEvent(harness.Server, harness.EvRestart, 0), isEvent(harness.Server, harness.EvAccept, 2)),
			expect.EventGap("new session accepted → its Read timed out (ms)", isEvent(harness.Server, harness.EvAccept, 2), isEvent(harness.Server, harness.EvRead, 2)),
		},
	})
}

func serverRestartClient(conn net.Conn) error {
	defer conn.Close()
	env, err := helloThenKill(conn)
	if err != nil {
		return err
	}
	if err := env.RestartServer(); err != nil {
		return err
	}
	return echoOnce(conn, serverRestartMsg, echoDeadline)
}

// serverReadNothing checks that server#n read no bytes.
func serverReadNothing(n int) harness.Check {
	return checkFn(fmt.Sprintf("server#%d read nothing", n), func(tr *harness.Trace) error {
		if got := tr.BytesRead(harness.Server, n); len(got) > 0 {
			return fmt.Errorf("read %q", got)
		}
		return nil
	})
}

// oneConvOnTheWire checks that every segment carries the client session's conv: the new server's
// session took it from the client's datagram.
func oneConvOnTheWire() harness.Check {
	return checkFn("every segment carries the client's conv", func(tr *harness.Trace) error {
		for _, s := range tr.Segments {
			if s.Conv != tr.Segments[0].Conv {
				return fmt.Errorf("%s: conv %d, the client's is %d", s, s.Conv, tr.Segments[0].Conv)
			}
		}
		return nil
	})
}

// serverRestartAcks are the new server's ACKs of the client's message.
func serverRestartAcks(tr *harness.Trace) harness.Segs {
	return tr.Segs().Dir(harness.S2C).Cmd(kcpwire.CmdAck).Sn(1)
}

var serverRestartAckedSn1 = harness.Measure{Name: "una of the new server's ACK", Fn: func(tr *harness.Trace) (float64, bool) {
	ack, ok := serverRestartAcks(tr).First()
	return float64(ack.Una), ok
}}

// serverRestartAckGap is the time from the message's first transmission to the new session's first
// ACK of it.
var serverRestartAckGap = harness.Measure{Name: "message → the new server's ACK (ms)", Fn: func(tr *harness.Trace) (float64, bool) {
	msg, sent := tr.Segs().Dir(harness.C2S).Cmd(kcpwire.CmdPush).Sn(1).First()
	ack, acked := serverRestartAcks(tr).After(msg.Time).First()
	if !sent || !acked {
		return 0, false
	}
	return float64(ack.Time-msg.Time) / float64(time.Millisecond), true
}}

func serverRestartAnswer(r *harness.Result) string {
	c, again := serverRestartAckedNotDelivered, serverRestartSentAgain
	ack, _ := r.Quantile(c, serverRestartAckGap, 0.5)
	timedOut := 0
	for _, t := range append(r.Of(c), r.Of(again)...) {
		if tr := t.Trace; tr != nil && len(tr.ServerErr) >= 2 && harness.IsTimeout(tr.ServerErr[1]) && !(len(tr.TornDown) >= 2 && tr.TornDown[1]) {
			timedOut++
		}
	}
	return fmt.Sprintf("No: in %d of %d trials the new listener made a session for the old client and ACKed its message "+
		"(median %.2f ms, with una=0; in %d more after a retransmission) but never delivered it to Read, which waits for sn 0 "+
		"(kcp.go:584-586): the new server read nothing (its 1 s Read timed out in %d, the trial ended first in the rest), "+
		"and the client, whose message was ACKed, was never told.",
		r.Count(c), len(r.Trials), ack, r.Count(again), timedOut)
}
