package experiments

import (
	"fmt"
	"net"
	"time"

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
// Rarely (seen under the race detector, which slows the goroutine hops) the first tick runs before the
// listener feeds the new session the request (sess.go:1267-1268): it sends nothing but sets cwnd to 1,
// so the Write's flush sends the ACK and the echo in one datagram, and the client, whose Input sees
// una advance and a PUSH in one call, flushes its ACK at once (kcp.go:639-641, 723-728).
//
// Either way nothing follows: the client's Read times out 1 s after the echo, the server's 1 s after
// its Write, and neither Close puts anything on the wire (nothing is left to flush), so neither side
// ever hears of the other's Close.
func init() {
	register(&harness.Experiment{
		ID:       "p001",
		Title:    "an echo exchange ends only by read timeouts",
		Question: "When a kcp-go client and an echo server both read with a 1 s deadline, how does their exchange end?",
		Answer:   p001Answer,
		Server:   echoServer,
		Client:   p001Client,
		Trials:   40,
		Classes: []harness.Class{{
			Name:        "echoed",
			Description: "the post's four datagrams: request, its ACK, the echo, its ACK at the client's next tick",
			Ladder:      exchangeLadder(ackAtTick),
			Checks:      []harness.Check{harness.ReadGot(harness.Client), harness.ReadGot(harness.Server)},
		}, {
			Name:        "echoed, ACK with the echo",
			Description: "the server's ACK and the echo in one datagram, so the client ACKed the echo at once",
			Ladder:      exchangeLadder(ackAtOnce),
			Checks:      []harness.Check{harness.ReadGot(harness.Client), harness.ReadGot(harness.Server), ackWithResponse(true)},
		}},
		Invariants: []harness.Check{
			harness.NoHandshake(),
			harness.OnlyDataAndAcks(),
			harness.AcceptedSessions(1),
			harness.ReadEndsInTimeout(harness.Client, echoDeadline),
			harness.ReadEndsInTimeout(harness.Server, echoDeadline),
		},
		Measures: []harness.Measure{
			harness.Accepts(),
			harness.SegmentGap("request → its ACK (ms)", 0, 1),
			harness.SegmentGap("request → echo (ms)", 0, 2),
			harness.SegmentGap("echo → its ACK (ms)", 2, 3),
			harness.EventGap("server Write → its Read timeout (ms)", harness.EventIs(harness.Server, harness.EvWrite), serverReadFailed),
		},
	})
}

// exchangeLadder is one request and its response, each ACKed, ending with the client's ACK of the
// response (ackAtTick or ackAtOnce).
func exchangeLadder(finalAck harness.Step) harness.Ladder {
	return harness.Ladder{
		harness.Push(harness.C2S).WithSn(0).WithUna(0),
		harness.Ack(harness.S2C).WithSn(0).WithUna(1),
		harness.Push(harness.S2C).WithSn(0).WithUna(1),
		finalAck,
	}
}

// ackWithResponse checks whether the server's ACK and its first PUSH (segments 1 and 2) travelled in one
// datagram (shared) or in two. Shared, they make the client's Input flush its ACK at once.
func ackWithResponse(shared bool) harness.Check {
	name := "the server's ACK and its response share one datagram"
	if !shared {
		name = "the server's ACK and its response travel in separate datagrams"
	}
	return harness.Check{Name: name, Fn: func(tr *harness.Trace) error {
		if len(tr.Segments) < 3 {
			return fmt.Errorf("only %d segments", len(tr.Segments))
		}
		if a, b := tr.Segments[1].Datagram, tr.Segments[2].Datagram; (a == b) != shared {
			return fmt.Errorf("they travelled in datagrams %d and %d", a+1, b+1)
		}
		return nil
	}}
}

// echoDeadline is the read deadline of every Read in the echo experiments.
const echoDeadline = time.Second

// serverReadFailed matches a server Read that returned an error.
func serverReadFailed(e harness.Event) bool {
	return e.Side == harness.Server && e.Kind == harness.EvRead && e.Err != nil
}

// echoServer is the series' echo loop: Read with a 1 s deadline, write back what was read, repeat;
// Close when a Read or Write fails.
func echoServer(conn net.Conn) error {
	defer conn.Close()
	buf := make([]byte, 4096)
	for {
		_ = conn.SetReadDeadline(time.Now().Add(echoDeadline))
		n, err := conn.Read(buf)
		if err != nil {
			return err
		}
		if _, err := conn.Write(buf[:n]); err != nil {
			return err
		}
	}
}

// p001Client writes the time, then reads with a 1 s deadline until an error.
func p001Client(conn net.Conn) error {
	defer conn.Close()
	if _, err := conn.Write([]byte(time.Now().String())); err != nil {
		return err
	}
	buf := make([]byte, 4096)
	for nRead := 0; ; {
		_ = conn.SetReadDeadline(time.Now().Add(echoDeadline))
		n, err := conn.Read(buf[nRead:])
		if err != nil {
			return err
		}
		nRead += n
	}
}

func p001Answer(r *harness.Result) string {
	tick, once := r.Counts["echoed"], r.Counts["echoed, ACK with the echo"]
	return fmt.Sprintf("Only by read timeouts: in %d of %d trials the echo came back and was ACKed (at the client's next update tick in %d, "+
		"at once in %d), then both Reads timed out 1 s later and neither Close put anything on the wire.", tick+once, len(r.Trials), tick, once)
}
