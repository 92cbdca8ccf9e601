package experiments

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"kcplab/harness"
)

// nobody-listening, from kcp-go issues #124 and #238: Dial and Write to an address where nothing
// listens. Is there any error, ever? What is the retransmission schedule, and what happens at the
// dead-link limit?
//
// Configuration: kcp-go's defaults for a Dial session (nodelay 0, interval 100 ms, initial RTO 200 ms,
// dead link after 20 transmissions). No listener: the server's port is bound and nothing reads it, so
// nothing answers, not even an ICMP error.
//
// Server: none. Client: Write the request; Read with a deadline 39 s after the start (just past the
// 20th transmission, due at 38.0 s); Write a second message; Read with a deadline at 43.5 s (past the
// 21st, due at 42.0 s); Close. Trials take ~44 s (Timeout 50 s), nearly all of it idle.
//
// Expected ladder (one row per transmission of the request; times by the client's own ts):
//
//	c→s PUSH sn=0 una=0 len=N  @0       the first flush (Dial sent nothing: no handshake)
//	c→s PUSH sn=0 una=0 len=N  +200ms   the RTO: it starts at rx_rto = 200 ms (no RTT sample ever
//	c→s PUSH sn=0 una=0 len=N  +400ms   arrives) and grows by rx_rto at every timeout (nodelay 0:
//	c→s PUSH sn=0 una=0 len=N  +600ms   segment.rto += kcp.rx_rto, kcp.go:919-927), so the k-th
//	...                                 retransmission comes k×200 ms after the one before it:
//	c→s PUSH sn=0 una=0 len=N  +3800ms  the 20th transmission at 38.0 s sets kcp.state = 0xFFFFFFFF
//	                                    (kcp.go:948-949), which nothing in kcp-go reads,
//	c→s PUSH sn=0 una=0 len=N  +4000ms  so the 21st follows at 42.0 s, and so on, without end
//
// and no error anywhere: Write only queues (sess.go:368-398, 416-470; it blocks only when 32 segments wait,
// sess.go:371-373), Read fails only on its deadline, a socket error or Close (sess.go:349-366), and
// Close returns nil. The second message never leaves: cwnd stays 1 while sn 0 is unacknowledged
// (kcp.go:853-861, 988-992), and the update loop never looks at state (sess.go:861-880). v5.6.72 is the same (state set at kcp.go:942-943, never read).
var nobodyRetransmitted = harness.Class{
	Name:        "retransmitted past the dead-link limit, no error",
	Description: "21 transmissions of the request at 0, 0.2, 0.6, 1.2 … 38.0, 42.0 s; Writes and Close succeed, every Read times out",
	Ladder:      nobodyLadder(),
	Checks:      []harness.Check{readsTimedOut(harness.Client, 2)},
}

// Times of the client role, from its start.
const (
	nobodyPastLimit = 39 * time.Second         // the first Read's deadline: past the 20th transmission (38.0 s)
	nobodyEnd       = 43500 * time.Millisecond // the second Read's deadline: past the 21st (42.0 s)
)

const nobodyRequest, nobodyLater = "anyone there?", "still there?"

func init() {
	register(&harness.Experiment{
		ID:         "nobody-listening",
		Title:      "Dial and Write where nothing listens",
		Question:   "Dial and Write to an address where nothing listens: any error, ever? What is the retransmission schedule, and what happens at the dead-link limit? (kcp-go #124, #238)",
		Answer:     nobodyAnswer,
		NoListener: true,
		Client:     nobodyClient,
		Trials:     20,
		Timeout:    50 * time.Second,
		Classes:    []harness.Class{nobodyRetransmitted},
		Invariants: append(wireInvariants(), noErrorButTimeout(harness.Client)),
		Timings: []harness.Timing{
			harness.ReadTimeoutAfter(harness.Client, nobodyEnd-nobodyPastLimit),
		},
		Measures: []harness.Measure{
			transmissionCount("transmissions of the request", harness.C2S, 0),
			transmissionAt("2nd transmission (s)", harness.C2S, 0, 2),
			transmissionAt("3rd transmission (s)", harness.C2S, 0, 3),
			transmissionAt("10th transmission (s)", harness.C2S, 0, 10),
			transmissionAt("20th transmission: the dead-link limit (s)", harness.C2S, 0, deadLink),
			transmissionAt("21st transmission (s)", harness.C2S, 0, deadLink+1),
		},
	})
}

// nobodyLadder is the request sent 21 times, the k-th retransmission k×initialRTO after the previous.
func nobodyLadder() harness.Ladder {
	req := harness.Push(harness.C2S).WithSn(0).WithUna(0).WithLen(uint32(len(nobodyRequest)))
	l := harness.Ladder{req.At(0)}
	for k := 1; k <= deadLink; k++ {
		l = append(l, req.After(time.Duration(k)*initialRTO))
	}
	return l
}

// nobodyClient writes, reads past the dead-link limit, writes again, reads past the next
// retransmission and closes; it returns the first error that is not a Read timeout.
func nobodyClient(conn net.Conn) error {
	start := time.Now()
	buf := make([]byte, 1500)
	readUntil := func(d time.Duration) error {
		_ = conn.SetReadDeadline(start.Add(d))
		if n, err := conn.Read(buf); !harness.IsTimeout(err) {
			return fmt.Errorf("read %d bytes, %v", n, err)
		}
		return nil
	}
	_, err := conn.Write([]byte(nobodyRequest))
	if err == nil {
		err = readUntil(nobodyPastLimit)
	}
	if err == nil {
		_, err = conn.Write([]byte(nobodyLater))
	}
	if err == nil {
		err = readUntil(nobodyEnd)
	}
	return errors.Join(err, conn.Close())
}

func nobodyAnswer(r *harness.Result) string {
	n, k := len(r.Trials), r.Count(nobodyRetransmitted)
	var sched []string
	for i := 2; i <= 4; i++ {
		v, _ := medianOf(r, nobodyRetransmitted, transmissionAt("", harness.C2S, 0, i))
		sched = append(sched, fmt.Sprintf("%.1f", v))
	}
	limit, _ := medianOf(r, nobodyRetransmitted, transmissionAt("", harness.C2S, 0, deadLink))
	next, _ := medianOf(r, nobodyRetransmitted, transmissionAt("", harness.C2S, 0, deadLink+1))
	return fmt.Sprintf("Never an error: in %d of %d trials Dial, both Writes and Close succeeded and every Read only timed out, while "+
		"the request went out at 0, %s … s (each gap 200 ms longer, kcp.go:919-927), the 20th transmission at %.1f s (median) "+
		"marked the link dead (kcp.go:948-949) but nothing reads that state, so the 21st followed at %.1f s.",
		k, n, strings.Join(sched, ", "), limit, next)
}
