package experiments

import (
	"fmt"
	"net"
	"time"

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
// Rarely (seen under the race detector) the server session's first update tick runs before the
// listener feeds it the request, so the Write's flush sends the ACK and the response in one datagram
// and the client ACKs at once (see p001): the "3-datagram case".
func init() {
	register(&harness.Experiment{
		ID:       "p003",
		Title:    "the server's Close is not signalled to the client",
		Question: "When a kcp-go server writes a response and closes, does the client get the response, and does it learn of the Close?",
		Answer:   p003Answer,
		Server:   p003Server(nil),
		Client:   p003Client,
		Trials:   40,
		Classes: []harness.Class{
			{
				Name:        "delivered",
				Description: "the post's four datagrams: request, its ACK, the response, its ACK",
				Ladder:      p003Ladder(ackAtTick),
				Checks:      []harness.Check{harness.ReadGot(harness.Client)},
			},
			{
				Name:        "delivered, ACK with the response",
				Description: "three datagrams: the server's ACK and the response in one, so the client ACKed at once",
				Ladder:      p003Ladder(ackAtOnce),
				Checks:      []harness.Check{harness.ReadGot(harness.Client), ackWithResponse(true)},
			},
			{
				Name:        "response lost at Close",
				Description: "request and its ACK only: the server's Close dropped the queued response",
				Ladder:      p003Ladder(ackAtTick)[:2],
				Checks:      []harness.Check{harness.ReadNothing(harness.Client)},
			},
		},
		Invariants: []harness.Check{
			harness.NoHandshake(),
			harness.OnlyDataAndAcks(),
			harness.ReadEndsInTimeout(harness.Client, time.Second),
		},
		Measures: p003Measures,
	})
}

// p003Ladder is the request/response exchange of p003, step by step, ending with the client's ACK
// of the response (ackAtTick or ackAtOnce).
func p003Ladder(finalAck harness.Step) harness.Ladder {
	l := exchangeLadder(finalAck)
	l[0] = l[0].WithLen(uint32(len(handshake)))
	return l
}

// updateInterval is kcp-go's default update interval: a pending ACK waits for the next tick.
const updateInterval = 100 * time.Millisecond

var (
	// ackAtTick is the client's ACK of the response at its next update tick. A session's ticks
	// run every interval from its creation, just before it sends the request, so the tick comes
	// one interval after the request, however late the response was.
	ackAtTick = harness.Ack(harness.C2S).WithSn(0).WithUna(1).At(updateInterval)
	// ackAtOnce is the client's ACK sent as soon as the response arrived: when one datagram both
	// acknowledges the client's request and brings the response, the client's Input flushes its ACK
	// at once (kcp.go:639-641, 723-728).
	ackAtOnce = harness.Ack(harness.C2S).WithSn(0).WithUna(1).After(0)
)

// p003Measures are reported per class for p003 and its variants.
var p003Measures = []harness.Measure{
	harness.Accepts(),
	harness.SegmentGap("request → its ACK (ms)", 0, 1),
	harness.SegmentGap("request → response (ms)", 0, 2),
	harness.SegmentGap("response → its ACK (ms)", 2, 3),
	harness.SegmentGap("request → the client's ACK of the response (ms)", 0, 3),
	harness.EventGap("server Write → Close returned (ms)", harness.EventIs(harness.Server, harness.EvWrite), harness.EventIs(harness.Server, harness.EvClose)),
}

const handshake = "handshake"

// p003Server is the seed's server; linger, when not nil, runs between the Write and the Close.
func p003Server(linger func(net.Conn)) harness.Role {
	return func(conn net.Conn) error {
		defer conn.Close()
		buf := make([]byte, 4096)
		n, err := conn.Read(buf)
		if err != nil {
			return err
		}
		if string(buf[:n]) != handshake {
			return fmt.Errorf("expect %q, got %q", handshake, buf[:n])
		}
		content := []byte(time.Now().String())
		for nw := 0; nw < len(content); {
			_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
			n, err := conn.Write(content[nw:])
			if err != nil {
				return err
			}
			nw += n
		}
		if linger != nil {
			linger(conn)
		}
		return nil
	}
}

// p003Client is the seed's client: one request, then Read with a 1 s deadline until an error.
func p003Client(conn net.Conn) error {
	defer conn.Close()
	if _, err := conn.Write([]byte(handshake)); err != nil {
		return err
	}
	buf := make([]byte, 4096)
	for nRead := 0; ; {
		_ = conn.SetReadDeadline(time.Now().Add(time.Second))
		n, err := conn.Read(buf[nRead:])
		if err != nil {
			return err
		}
		nRead += n
	}
}

func p003Answer(r *harness.Result) string {
	n := len(r.Trials)
	d, l := r.Counts["delivered"]+r.Counts["delivered, ACK with the response"], r.Counts["response lost at Close"]
	return fmt.Sprintf("No: the client is never told of the Close (its Read timed out in %d of %d trials, "+
		"never with EOF), and the response itself arrived in only %d of %d trials (%d lost at Close).",
		n-len(r.Failed()), n, d, n, l)
}
