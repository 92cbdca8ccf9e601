package experiments

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"time"

	"kcplab/expect"
	"kcplab/harness"
	"kcplab/kcpwire"
)

// idle-peer (kcp-go issues #56, #258, #262): the server's process vanishes while the client is idle,
// then the client writes. How long until the client's application knows anything?
//
// Server: echo loop (Read with a 1 s deadline, write back, repeat). Client: one echo exchange
// ("hello"), idle 200 ms; the experiment kills the server (harness.Env.KillServer: its socket closed,
// no Close, as when its process dies: nothing more leaves its port); the client stays idle 200 ms more,
// then writes "are you there?" and Reads with a 1 s deadline (idleBound), then closes.
//
// Expected ladder:
//
//	c→s PUSH sn=0 una=0           "hello"
//	s→c ACK  sn=0 una=1
//	s→c PUSH sn=0 una=1           the echo
//	c→s ACK  sn=0 una=1           (firstExchange: at the client's next tick, or at once)
//	                              -- the server's process vanishes; nothing is sent, nothing shows --
//	c→s PUSH sn=1 una=1  ×n       the message, to a port where nobody listens: retransmitted at each
//	                              RTO, rto += rx_rto each time (kcp.go:919-924), rx_rto ~100 ms after
//	                              the first exchange's RTT sample (kcp.go:473-475, IKCP_RTO_MIN)
//
// and the client's application learns nothing: its Write returns at once (it hands the message
// to KCP, which sends it, and never waits for an ACK: sess.go:368-400), and its Read ends by its own
// deadline only. The kernel answers each datagram with an
// ICMP port unreachable, but the client's socket is unconnected (kcp.DialWithOptions uses
// net.ListenUDP, sess.go:1633, as the harness does) and Linux reports ICMP errors only on connected
// UDP sockets, so no socket error reaches kcp-go's read loop (readloop.go:55-58; readloop_linux.go on a bare socket,
// as with -capture live). KCP's own dead-link
// rule marks the session dead after 20 transmissions (IKCP_DEADLINK, kcp.go:58; kcp.go:948-949), about
// 20 s at this back-off; nothing in kcp-go reads that state (kcp.state is written at kcp.go:949 and read
// nowhere), so even then Read and Write go on as before.
//
// On the server side the in-process stand-in for the vanished process is visible: kcp-go's read loop
// fails on the closed socket and hands the error to every session (sess.go:1370-1380), so server#1's
// Read ends with "use of closed network connection". A real dead process has no application left.
var (
	idlePeerNeverTold = harness.Class{
		Name:        "never told: the message retransmitted to the dead port, Read ends by its deadline",
		Description: "after the kill only the client's message, sent again and again; its Write succeeded and its Read timed out with nothing read",
		Ladder:      append(firstExchange(), nextMessage(idlePeerMsg).Repeat(1, 30)),
		Checks: []harness.Check{idlePeerWriteOK(),
			clientReadTimedOutAfter("the client's next Read learned nothing until its deadline", "the message", idlePeerMessageWrite)},
	}
)

const (
	idlePeerMsg = "are you there?"
	// idleBound is the client's read deadline after its message: the trial's bound on "knows anything".
	idleBound = time.Second
)

func init() {
	register(&harness.Experiment{
		ID:       "idle-peer",
		Title:    "a vanished server is never reported to an idle client that writes",
		Question: "When the server's process vanishes (socket closed, no Close) while the client is idle and the client then writes, how long until the client's application knows anything?",
		Answer:   idlePeerAnswer,
		Server:   echoServer,
		Client:   idlePeerClient,
		Trials:   200,
		Timeout:  5 * time.Second,
		Classes:  []harness.Class{idlePeerNeverTold},
		Invariants: append(wireInvariants(),
			expect.AcceptedSessions(1),
			nothingFromServerAfterKill(),
		),
		Timings: []harness.Timing{
			expect.ReadTimeoutAfter(harness.Client, idleBound),
		},
		Measures: []harness.Measure{
			idlePeerWriteBlocked,
			idlePeerKnows,
			idlePeerSends,
			idlePeerLastSend,
		},
	})
}

func idlePeerClient(conn net.Conn) error {
	defer conn.Close()
	if _, err := helloThenKill(conn); err != nil {
		return err
	}
	time.Sleep(settleIdle)
	if _, err := conn.Write([]byte(idlePeerMsg)); err != nil {
		return err
	}
	_ = conn.SetReadDeadline(time.Now().Add(idleBound))
	n, err := conn.Read(make([]byte, 64))
	if err == nil {
		return fmt.Errorf("read %d bytes from a dead server", n)
	}
	return err
}

// idlePeerMessageWrite matches the client's Write of its message after the kill.
func idlePeerMessageWrite(e harness.Event) bool {
	return e.Side == harness.Client && e.Kind == harness.EvWrite && string(e.Data) == idlePeerMsg
}

func idlePeerWriteOK() harness.Check {
	return checkFn("the client's Write after the kill succeeded", func(tr *harness.Trace) error {
		if _, ok := tr.EventAt(func(e harness.Event) bool { return idlePeerMessageWrite(e) && e.Err == nil }); !ok {
			return errors.New("no successful Write of the message")
		}
		return nil
	})
}

// nothingFromServerAfterKill checks that no datagram left the server's port after KillServer.
func nothingFromServerAfterKill() harness.Check {
	return checkFn("nothing from the server's port after the kill", func(tr *harness.Trace) error {
		at, ok := tr.EventAt(func(e harness.Event) bool { return e.Kind == harness.EvKill })
		if !ok {
			return errors.New("the server was not killed")
		}
		if s, sent := tr.Segs().Dir(harness.S2C).After(at).First(); sent {
			return fmt.Errorf("%s", s)
		}
		return nil
	})
}

var (
	idlePeerWriteBlocked = harness.Measure{Name: "the message's Write blocked (ms)", Fn: func(tr *harness.Trace) (float64, bool) {
		i := slices.IndexFunc(tr.Events, idlePeerMessageWrite)
		if i < 0 {
			return 0, false
		}
		return float64(tr.Events[i].Dur) / float64(time.Millisecond), true
	}}
	idlePeerKnows = harness.Measure{Name: "message Write → the application learns anything (ms; only its Read deadline)", Fn: func(tr *harness.Trace) (float64, bool) {
		i := slices.IndexFunc(tr.Events, idlePeerMessageWrite)
		r, ok := tr.EventAfter(idlePeerMessageWrite, harness.EventIs(harness.Client, harness.EvRead))
		if i < 0 || !ok {
			return 0, false
		}
		return float64(r.Time.Sub(tr.Events[i].Time)) / float64(time.Millisecond), true
	}}
	idlePeerSends    = transmissionCount("transmissions of the message to the dead port", harness.C2S, 1)
	idlePeerLastSend = harness.Measure{Name: "first → last transmission of the message (ms)", Fn: func(tr *harness.Trace) (float64, bool) {
		ts := tr.Segs().Dir(harness.C2S).Cmd(kcpwire.CmdPush).Sn(1).Times()
		if len(ts) == 0 {
			return 0, false
		}
		return float64(ts[len(ts)-1]-ts[0]) / float64(time.Millisecond), true
	}}
)

func idlePeerAnswer(r *harness.Result) string {
	c := idlePeerNeverTold
	n := r.Count(c)
	blocked, _ := r.Quantile(c, idlePeerWriteBlocked, 0.5)
	knows, _ := r.Quantile(c, idlePeerKnows, 0.5)
	sends, _ := r.Quantile(c, idlePeerSends, 0.5)
	most, _ := r.Quantile(c, idlePeerSends, 1)
	return fmt.Sprintf("Never within the trial's %.1f s bound: in %d of %d trials the client's Write to the vanished server "+
		"returned at once (median %.2f ms), its message went to the dead port %.0f times (median; at most %.0f), and the only thing "+
		"its application learned was its own Read deadline (median %.0f ms after the Write); kcp-go has no keepalive, its dead-link "+
		"mark (20 transmissions, kcp.go:948-949) is read by nothing, and the unconnected socket gets no ICMP error.",
		idleBound.Seconds(), n, len(r.Trials), blocked, sends, most, knows)
}
