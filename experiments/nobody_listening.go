package experiments

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"kcplab/expect"
	"kcplab/harness"
	"kcplab/kcpwire"
)

// nobody-listening, from kcp-go issues #124 and #238: Dial and Write to an address where nothing
// listens. Is there any error, ever? What is the retransmission schedule, and what happens at the
// dead-link limit?
//
// Configuration: kcp-go's defaults for a Dial session (nodelay 0, interval 100 ms, initial RTO 200 ms,
// dead link after 20 transmissions). No listener: the server's port is bound and nothing reads it, so
// nothing answers, not even an ICMP error.
//
// Server: none. Client: Write the request; Read with a deadline 40 s after the start (past the 20th
// transmission, due at 38.0 s); then Write more messages, each with a 500 ms write deadline, until one
// fails; Read with a deadline 4.1 s after the last Write that succeeded (at 44.1 s, past the 21st
// transmission, due at 42.0 s); Close. Trials take ~45 s (Timeout 50.6 s), nearly all of it idle.
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
// and no error anywhere but deadlines. Write only queues (sess.go:368-398, 416-470): 31 more messages
// are accepted after the limit, and the 33rd Write finds 32 messages waiting (the send window,
// sess.go:371-373) and blocks until its deadline, a timeout, not a dead-link error; none of them leaves,
// since cwnd stays 1 while sn 0 is unacknowledged (kcp.go:853-861, 988-992). Read fails only on its
// deadline, a socket error or Close (sess.go:349-366); the update loop never looks at state
// (sess.go:861-880); Close returns nil. v5.6.72 is the same (state set at kcp.go:942-943, never read;
// the send window check at sess.go:399-400).
//
// A full trial takes ~44 s, so `go test` runs Short: the same roles and checks over the first 6
// transmissions (~5 s), without reaching the limit; `make capture` and `kcplab run` run the full one.
var nobodyRetransmitted = harness.Class{
	Name:        "retransmitted past the dead-link limit, no error",
	Description: "21 transmissions of the request at 0, 0.2, 0.6, 1.2 … 38.0, 42.0 s; 32 Writes succeed and the next blocks until its deadline, every Read times out, Close succeeds",
	Ladder:      nobodyLadder(deadLink + 1),
	Checks:      []harness.Check{readsTimedOut(harness.Client, 2), writesUntilFull()},
}

// nobodyShortSends is how many transmissions the short configuration waits for.
const nobodyShortSends = 6

// writesUntilFull checks that the client's Writes succeeded until sendWnd messages waited (the request
// and sendWnd-1 more), and that the next one blocked until its deadline.
func writesUntilFull() harness.Check {
	return harness.Check{Name: fmt.Sprintf("%d Writes succeed, the next times out", sendWnd), Fn: func(tr *harness.Trace) error {
		ok, timedOut := 0, 0
		for _, e := range tr.EventsOf(harness.Client, 0) {
			switch {
			case e.Kind != harness.EvWrite:
			case e.Err == nil && timedOut == 0:
				ok++
			case harness.IsTimeout(e.Err):
				timedOut++
			default:
				return fmt.Errorf("%s", e)
			}
		}
		if ok != sendWnd || timedOut != 1 {
			return fmt.Errorf("%d Writes succeeded, then %d timed out", ok, timedOut)
		}
		return nil
	}}
}

// nobodySentAt is when the request's k-th transmission (1-based) is due: the k-th retransmission comes
// k×initialRTO after the one before it, so the k-th transmission at initialRTO×(k-1)k/2.
func nobodySentAt(k int) time.Duration { return initialRTO * time.Duration((k-1)*k/2) }

// nobodyTimes are the client role's deadlines, from its start, for a trial that waits for sends
// transmissions: the first Read's halfway between the last two (past the limit, for 21), the second
// halfway between the last and the one that would follow.
func nobodyTimes(sends int) (pastLimit, end time.Duration) {
	return (nobodySentAt(sends-1) + nobodySentAt(sends)) / 2, (nobodySentAt(sends) + nobodySentAt(sends+1)) / 2
}

const nobodyRequest, nobodyLater = "anyone there?", "still there? #%02d"

// nobodyWriteWait is the write deadline of each Write after the limit: the one that finds the send
// window full blocks until it.
const nobodyWriteWait = 500 * time.Millisecond

// sendWnd is kcp-go's default send window (IKCP_WND_SND): Write blocks while this many messages wait.
const sendWnd = 32

func init() {
	e := nobodyExperiment(deadLink+1, nobodyRetransmitted)
	e.Answer = nobodyAnswer
	e.Short = nobodyExperiment(nobodyShortSends, harness.Class{
		Name:        fmt.Sprintf("retransmitted %d times, no error", nobodyShortSends),
		Description: "the first transmissions of the request at 0, 0.2, 0.6, 1.2, 2.0, 3.0 s; 32 Writes succeed and the next blocks, every Read times out",
		Ladder:      nobodyLadder(nobodyShortSends),
		Checks:      []harness.Check{readsTimedOut(harness.Client, 2), writesUntilFull()},
	})
	register(e)
}

// nobodyExperiment is nobody-listening over the first sends transmissions of the request.
func nobodyExperiment(sends int, class harness.Class) *harness.Experiment {
	pastLimit, end := nobodyTimes(sends)
	measures := []harness.Measure{
		transmissionCount("transmissions of the request", harness.C2S, 0),
		transmissionAt("2nd transmission (s)", harness.C2S, 0, 2),
		transmissionAt("3rd transmission (s)", harness.C2S, 0, 3),
	}
	if sends > deadLink {
		measures = append(measures,
			transmissionAt("10th transmission (s)", harness.C2S, 0, 10),
			transmissionAt("20th transmission: the dead-link limit (s)", harness.C2S, 0, deadLink),
			transmissionAt("21st transmission (s)", harness.C2S, 0, deadLink+1))
	}
	return &harness.Experiment{
		ID:         "nobody-listening",
		Title:      "Dial and Write where nothing listens",
		Question:   "Dial and Write to an address where nothing listens: any error, ever? What is the retransmission schedule, and what happens at the dead-link limit? (kcp-go #124, #238)",
		NoListener: true,
		Client:     nobodyClient(pastLimit, end),
		Trials:     25, // one round at -parallel 25: each full trial waits ~44 s
		Timeout:    end + 6500*time.Millisecond,
		Classes:    []harness.Class{class},
		Invariants: append(wireInvariants(), noErrorButTimeout(harness.Client)),
		Timings: []harness.Timing{
			expect.ReadTimeoutAfter(harness.Client, end-pastLimit),
			writeTimeoutAfter(harness.Client, nobodyWriteWait),
		},
		Measures: measures,
	}
}

// nobodyLadder is the request sent sends times, the k-th retransmission k×initialRTO after the previous.
func nobodyLadder(sends int) harness.Ladder {
	req := harness.Push(harness.C2S).WithSn(0).WithUna(0).WithLen(uint32(len(nobodyRequest)))
	l := harness.Ladder{req.At(0)}
	for k := 1; k < sends; k++ {
		l = append(l, req.After(time.Duration(k)*initialRTO))
	}
	return l
}

// nobodyClient writes, reads until pastLimit (past the dead-link limit, in a full trial), writes again
// until the send window is full, reads until end (past the next retransmission) and closes; it returns
// the first error that is not a Read timeout.
func nobodyClient(pastLimit, end time.Duration) harness.Role {
	return func(conn net.Conn) error { return nobodyRole(conn, pastLimit, end) }
}

func nobodyRole(conn net.Conn, nobodyPastLimit, nobodyEnd time.Duration) error {
	start := time.Now()
	buf := make([]byte, 1500)
	readUntil := func(deadline time.Time) error {
		_ = conn.SetReadDeadline(deadline)
		if n, err := conn.Read(buf); !harness.IsTimeout(err) {
			return fmt.Errorf("read %d bytes, %v", n, err)
		}
		return nil
	}
	_, err := conn.Write([]byte(nobodyRequest))
	if err == nil {
		err = readUntil(start.Add(nobodyPastLimit))
	}
	// The last Read waits nobodyEnd-nobodyPastLimit from the last Write that succeeded, as the Timing
	// ReadTimeoutAfter expects: when a stall delays the Writes, the Read's deadline moves with them,
	// and it is still past the next transmission.
	lastOK := time.Now()
	for i := 1; err == nil; i++ {
		_ = conn.SetWriteDeadline(time.Now().Add(nobodyWriteWait))
		if _, err = conn.Write([]byte(fmt.Sprintf(nobodyLater, i))); harness.IsTimeout(err) {
			err = nil
			break
		}
		lastOK = time.Now()
		if i > 2*sendWnd {
			err = fmt.Errorf("%d Writes after the limit and none blocked", i)
		}
	}
	if err == nil {
		err = readUntil(lastOK.Add(nobodyEnd - nobodyPastLimit))
	}
	return errors.Join(err, conn.Close())
}

func nobodyAnswer(r *harness.Result) string {
	n, k := len(r.Trials), r.Count(nobodyRetransmitted)
	var sched []string
	for i := 2; i <= 4; i++ {
		v, _ := r.Quantile(nobodyRetransmitted, transmissionAt("", harness.C2S, 0, i), 0.5)
		sched = append(sched, fmt.Sprintf("%.1f", v))
	}
	limit, _ := r.Quantile(nobodyRetransmitted, transmissionAt("", harness.C2S, 0, deadLink), 0.5)
	next, _ := r.Quantile(nobodyRetransmitted, transmissionAt("", harness.C2S, 0, deadLink+1), 0.5)
	return fmt.Sprintf("Never an error but deadlines: in %d of %d trials Dial, 32 Writes (the send window; the 33rd blocked until its deadline, sess.go:371-373) "+
		"and Close succeeded and every Read only timed out (sess.go:349-366), while "+
		"the request went out at 0, %s … s (each gap 200 ms longer, kcp.go:919-927), the 20th transmission at %.1f s (median) "+
		"marked the link dead (kcp.go:948-949) but nothing reads that state, so the 21st followed at %.1f s.",
		k, n, strings.Join(sched, ", "), limit, next)
}

// transmissionAt measures, in seconds since the trial's start, the k-th (1-based) transmission of
// the PUSH segment sn in direction d (the copies the link dropped included).
func transmissionAt(name string, d harness.Dir, sn uint32, k int) harness.Measure {
	return harness.Measure{Name: name, Fn: func(tr *harness.Trace) (float64, bool) {
		ts := tr.Segs().Dir(d).Cmd(kcpwire.CmdPush).Sn(sn)
		if len(ts) < k {
			return 0, false
		}
		return ts[k-1].Time.Seconds(), true
	}}
}

// readsTimedOut checks that side's Reads all ended in a timeout (want: how many, at least).
func readsTimedOut(side harness.Side, want int) harness.Check {
	return checkFn(fmt.Sprintf("the %s's Reads all timed out (at least %d)", side, want), func(tr *harness.Trace) error {
		n, other := timedOutReads(tr, side)
		if other != nil {
			return fmt.Errorf("%s", other)
		}
		if n < want {
			return fmt.Errorf("%d Read(s) timed out, want at least %d", n, want)
		}
		return nil
	})
}

// writeTimeoutAfter expects side's Write that timed out to have blocked for d, its deadline. It is never
// early: the role sets the deadline just before the call.
func writeTimeoutAfter(side harness.Side, d time.Duration) harness.Timing {
	return harness.Timing{
		Name:       fmt.Sprintf("%s's blocked Write times out after its deadline (+%v)", side, d),
		Want:       d,
		NeverEarly: true,
		Measure: func(tr *harness.Trace) (time.Duration, time.Duration, bool) {
			for _, e := range tr.EventsOf(side, 0) {
				if e.Kind == harness.EvWrite && harness.IsTimeout(e.Err) {
					return e.Dur, tr.Rel(e.Time), true
				}
			}
			return 0, 0, false
		},
	}
}
