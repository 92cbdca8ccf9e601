package experiments

import (
	"errors"
	"fmt"
	"net"
	"time"

	kcp "github.com/xtaci/kcp-go/v5"

	"kcplab/expect"
	"kcplab/harness"
	"kcplab/kcpwire"
	"kcplab/link"
)

// dead-link, from kcp-go issue #275: after an exchange the path goes dead (a blackhole, both
// directions). Does either side ever learn it, do Write or Read ever fail, what does the dead-link
// limit do? And if the path comes back, does the session recover?
//
// Configuration: both sessions in kcp-go's "fast" mode, SetNoDelay(1, 10, 0, 0): a 10 ms update
// interval and, after loopback RTT samples, rx_rto = rx_minrto = 30 ms (kcp.go:1133-1157, 455-476),
// growing by rx_rto/2 at every timeout (kcp.go:919-927), so the 20th transmission, the dead-link limit
// (IKCP_DEADLINK, kcp.go:948-949), comes 3.135 s after the first (with the defaults: rx_rto 100 ms,
// growing by 100 ms, 19 s). A first exchange slowed by a loaded machine gives an RTT sample of tens of
// ms and an RTO several times longer; the classes tell those trials apart by how many copies went out.
// Two links, one row each: blackhole=300ms.. (dead for good) and blackhole=300ms..6s (back after the
// limit was passed, for an RTO up to ~50 ms).
//
// Client: Write "ping-1", Read its echo; at 400 ms (the path is dead) Write "ping-2"; Read with 1 s
// deadlines until the echo arrives or 8 s passed; then Close (100 ms after an echo, so its ACK leaves
// at a tick first). Server: echo, reading with 1 s deadlines for 8.5 s; then Close. Trials take ~9 s
// (Timeout 14 s).
//
// Expected ladder:
//
//	c→s PUSH sn=0 una=0 len=6     ping-1
//	s→c ACK  sn=0 una=1           its ACK ...
//	s→c PUSH sn=0 una=1 len=6     ... and the echo (one datagram or two)
//	c→s ACK  sn=0 una=1           at the client's next 10 ms tick; the path dies at 300 ms
//	c→s PUSH sn=1 una=1 len=6     ping-2, dropped by the link, sent again 30, 45, 60 … ms apart:
//	  ×21 or more                 the 20th copy sets kcp.state = 0xFFFFFFFF (kcp.go:948-949), which
//	                              nothing reads (not Read, sess.go:349-366; not Write, sess.go:416-470;
//	                              not the update loop, sess.go:861-880), so the copies go on until Close
//
// and, when the path comes back at 6 s, the next copy gets through:
//
//	c→s PUSH sn=1 una=1 len=6     ping-2, delivered
//	s→c ACK  sn=1 una=2           its ACK and the echo
//	s→c PUSH sn=1 una=2 len=6
//	c→s ACK  sn=1 una=2
//
// The server has nothing unacknowledged while the path is dead, so it sends nothing and its Reads time
// out exactly as on an idle path: no keepalive tells it (v5.7.6 and v5.6.72 alike: v5.6.72 sets the
// same state at kcp.go:942-943 and never reads it either). They differ on Close, which matters only
// when something is still queued: v5.7.6 flushes, closes die and discards the datagrams a worker has
// not sent yet (sess.go:523-541, postprocess.go:144-151); v5.6.72 closes die before its flush
// (sess.go:463-479), and its output callback races each datagram against die (sess.go:236-243). Here
// neither Close has anything new to send: ping-2, the only segment ever in flight then, left long before.
var (
	deadForGood = harness.Class{
		Name:        "dead for good: retransmitted past the limit, nobody told",
		Description: "ping-1 echoed; ping-2 sent 21+ times into the blackhole until the client's Close; every later Read on both sides timed out",
		Ladder:      deadLinkLadder(deadLink+1, 200, false),
		Checks:      bothRead(deadLinkPing1),
	}
	deadNotYet = harness.Class{
		Name:        "dead for good, the limit not passed before Close",
		Description: "as above, but ping-2 went out 20 times or fewer before the client's Close: a slow first exchange made the RTO long",
		Ladder:      deadLinkLadder(1, deadLink, false),
		Checks:      bothRead(deadLinkPing1),
	}
	recoveredAfterLimit = harness.Class{
		Name:        "recovered after the dead-link limit",
		Description: "ping-2 dropped 20+ times, past the limit, then delivered when the path came back, echoed and ACKed",
		Ladder:      deadLinkLadder(deadLink, 200, true),
		Checks:      bothRead(deadLinkPing1 + deadLinkPing2Data),
	}
	recoveredBeforeLimit = harness.Class{
		Name:        "recovered by the 20th copy",
		Description: "ping-2 dropped fewer than 20 times (a slow first exchange made the RTO long), so a copy no later than the 20th, the one that marks the link dead, got through, was echoed and ACKed",
		Ladder:      deadLinkLadder(1, deadLink-1, true),
		Checks:      bothRead(deadLinkPing1 + deadLinkPing2Data),
	}
)

// Times of the roles, from their start.
const (
	deadLinkFrom        = 300 * time.Millisecond  // the blackhole's start, from the link's start
	deadLinkBack        = 6 * time.Second         // the end of the second link's blackhole
	deadLinkSecondWrite = 400 * time.Millisecond  // the client's Write of ping-2
	deadLinkClientEnd   = 8 * time.Second         // the client stops reading
	deadLinkServerEnd   = 8500 * time.Millisecond // the server stops reading
)

const deadLinkPing1, deadLinkPing2Data = "ping-1", "ping-2"

func init() {
	fast := func(s *kcp.UDPSession) { s.SetNoDelay(1, 10, 0, 0) }
	register(&harness.Experiment{
		ID:            "dead-link",
		Title:         "the path dies after an exchange",
		Question:      "After an exchange the path goes dead: does either side ever learn it, do Write or Read ever fail, what does the dead-link limit do, and if the path comes back, does the session recover? (kcp-go #275)",
		Answer:        deadLinkAnswer,
		Server:        deadLinkServer,
		Client:        deadLinkClient,
		ServerSession: fast,
		ClientSession: fast,
		Links: []link.Config{
			link.MustParse(fmt.Sprintf("blackhole=%v..", deadLinkFrom)),
			link.MustParse(fmt.Sprintf("blackhole=%v..%v", deadLinkFrom, deadLinkBack)),
		},
		Trials:  50, // per link; two rounds of ~9 s at -parallel 25
		Timeout: 14 * time.Second,
		MinRTO:  30 * time.Millisecond, // nodelay 1: IKCP_RTO_NDL (kcp.go:34, set at kcp.go:1137)
		Timings: []harness.Timing{deadLinkLimitTiming()},
		Classes: []harness.Class{deadForGood, deadNotYet, recoveredAfterLimit, recoveredBeforeLimit},
		Invariants: append(wireInvariants(), expect.AcceptedSessions(1),
			noErrorButTimeout(harness.Client), noErrorButTimeout(harness.Server)),
		Measures: []harness.Measure{
			expect.SegmentGap("ping-1 → its ACK: the RTT sample (ms)", 0, 1),
			{Name: "ping-2's RTO: its first retransmission after its first copy, by ts (ms)", Fn: deadLinkRTO},
			transmissionCount("transmissions of ping-2", harness.C2S, 1),
			{Name: "ping-2 Write → 20th transmission, the dead-link limit (s)", Fn: deadLinkLimitAfterWrite},
			expect.EventGap("ping-2 Write → its echo read (ms)", isWriteOf(deadLinkPing2Data), isReadOf(deadLinkPing2Data)),
			readTimeouts(harness.Client),
			readTimeouts(harness.Server),
		},
	})
}

// deadLinkLadder is ping-1, its ACK, its echo and the echo's ACK, then ping-2 dropped min to max times
// and, when recovered, delivered, ACKed, echoed and the echo ACKed.
func deadLinkLadder(min, max int, recovered bool) harness.Ladder {
	l := exchangeLadder(harness.Ack(harness.C2S).WithSn(0).WithUna(1))
	l[0], l[2] = l[0].WithLen(uint32(len(deadLinkPing1))), l[2].WithLen(uint32(len(deadLinkPing1)))
	ping2 := nextMessage(deadLinkPing2Data)
	l = append(l, ping2.DroppedByLink().At(deadLinkSecondWrite).Repeat(min, max))
	if recovered {
		l = append(l, ping2,
			harness.Ack(harness.S2C).WithSn(1).WithUna(2),
			harness.Push(harness.S2C).WithSn(1).WithUna(2).WithLen(uint32(len(deadLinkPing2Data))),
			harness.Ack(harness.C2S).WithSn(1).WithUna(2))
	}
	return l
}

// deadLinkClient exchanges ping-1, then writes ping-2 into the dead path and waits for its echo.
func deadLinkClient(conn net.Conn) error {
	start := time.Now()
	buf := make([]byte, 1500)
	if _, err := conn.Write([]byte(deadLinkPing1)); err != nil {
		return err
	}
	_ = conn.SetReadDeadline(start.Add(deadLinkFrom))
	if n, err := conn.Read(buf); err != nil || string(buf[:n]) != deadLinkPing1 {
		return errors.Join(fmt.Errorf("echo of ping-1: read %q, %v", buf[:n], err), conn.Close())
	}
	time.Sleep(time.Until(start.Add(deadLinkSecondWrite)))
	if _, err := conn.Write([]byte(deadLinkPing2Data)); err != nil {
		return errors.Join(err, conn.Close())
	}
	_, err := readUntil(conn, buf, start.Add(deadLinkClientEnd))
	switch {
	case errors.Is(err, errTimeUp):
		return conn.Close()
	case err == nil:
		time.Sleep(100 * time.Millisecond) // let the echo's ACK leave at a tick before Close
	}
	return errors.Join(err, conn.Close())
}

// deadLinkServer echoes what it reads, reading with 1 s deadlines for deadLinkServerEnd.
func deadLinkServer(conn net.Conn) error {
	buf := make([]byte, 1500)
	end := time.Now().Add(deadLinkServerEnd)
	for {
		n, err := readUntil(conn, buf, end)
		if errors.Is(err, errTimeUp) {
			return conn.Close()
		}
		if err == nil {
			_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
			_, err = conn.Write(buf[:n])
		}
		if err != nil {
			return errors.Join(err, conn.Close())
		}
	}
}

// errTimeUp is what readUntil returns when its end passed with only timed-out Reads.
var errTimeUp = errors.New("time up")

// readUntil reads with 1 s deadlines, none past end, until a Read returns something other than a
// timeout, and returns what it returned; errTimeUp once end has passed.
func readUntil(conn net.Conn, buf []byte, end time.Time) (int, error) {
	for time.Now().Before(end) {
		_ = conn.SetReadDeadline(time.Now().Add(min(time.Second, time.Until(end))))
		n, err := conn.Read(buf)
		if !harness.IsTimeout(err) {
			return n, err
		}
	}
	return 0, errTimeUp
}

// deadLinkFastRTO is ping-2's RTO after a prompt exchange in the fast mode: rx_rto = srtt +
// max(interval, 4·rttvar), at least rx_minrto (kcp.go:455-476), is 30 ms when the RTT sample is a
// couple of ms; a sample of tens of ms (a loaded machine) makes it longer.
const deadLinkFastRTO = 30 * time.Millisecond

// deadLinkFastLimit is when the 20th transmission of a segment follows its first with an RTO of
// deadLinkFastRTO: 19 timeouts of 30, 45, 60 … 300 ms (rto grows by rx_rto/2 at each, kcp.go:919-927).
const deadLinkFastLimit = 3135 * time.Millisecond

// ping2s returns the client's transmissions of ping-2 (sn 1), dropped or not.
func ping2s(tr *harness.Trace) harness.Segs {
	return tr.Segs().Dir(harness.C2S).Cmd(kcpwire.CmdPush).Sn(1)
}

// deadLinkRTO measures ping-2's first retransmission timeout by the client's ts, in ms.
func deadLinkRTO(tr *harness.Trace) (float64, bool) {
	segs := ping2s(tr)
	if len(segs) < 2 {
		return 0, false
	}
	return float64(int32(segs[1].Ts - segs[0].Ts)), true
}

// deadLinkLimitTiming expects ping-2's 20th transmission deadLinkFastLimit after its first, by the
// client's own ts, in the trials whose RTO was deadLinkFastRTO (up to 5 ms more: a timer a little late).
func deadLinkLimitTiming() harness.Timing {
	return harness.Timing{
		Name: fmt.Sprintf("ping-2's 20th transmission after its first, by the client's ts, when its RTO was %v (+%v)", deadLinkFastRTO, deadLinkFastLimit),
		Want: deadLinkFastLimit,
		Measure: func(tr *harness.Trace) (time.Duration, time.Duration, bool) {
			segs := ping2s(tr)
			rto, ok := deadLinkRTO(tr)
			if !ok || len(segs) < deadLink || rto < float64(deadLinkFastRTO.Milliseconds()) || rto > float64(deadLinkFastRTO.Milliseconds())+5 {
				return 0, 0, false
			}
			return time.Duration(int32(segs[deadLink-1].Ts-segs[0].Ts)) * time.Millisecond, segs[deadLink-1].Time, true
		},
	}
}

// deadLinkLimitAfterWrite is the time from the client's Write of ping-2 to its 20th transmission.
func deadLinkLimitAfterWrite(tr *harness.Trace) (float64, bool) {
	ts := ping2s(tr)
	at, ok := tr.EventAt(func(e harness.Event) bool { return e.Side == harness.Client && isWriteOf(deadLinkPing2Data)(e) })
	if !ok || len(ts) < deadLink {
		return 0, false
	}
	return (ts[deadLink-1].Time - at).Seconds(), true
}

func deadLinkAnswer(r *harness.Result) string {
	n := len(r.Trials)
	limit := harness.Measure{Fn: deadLinkLimitAfterWrite}
	rto := harness.Measure{Fn: deadLinkRTO}
	if r.Count(recoveredAfterLimit)+r.Count(recoveredBeforeLimit) == 0 {
		sec, _ := r.Quantile(deadForGood, limit, 0.5)
		sent, _ := r.Quantile(deadForGood, transmissionCount("", harness.C2S, 1), 0.5)
		rt, _ := r.Quantile(deadForGood, rto, 0.5)
		return fmt.Sprintf("Neither side ever learns it: in %d of %d trials every Write succeeded and every later Read on both sides only timed out "+
			"(the server, with nothing to send, sent nothing); in %d the client's 20th copy of its message, %.1f s (median) after the Write with an RTO of %.0f ms, "+
			"marked the link dead (kcp.go:948-949), which nothing reads (sess.go:349-366, 416-470, 861-880), so it sent %.0f copies until its Close%s.",
			r.Count(deadForGood)+r.Count(deadNotYet), n, r.Count(deadForGood), sec, rt, sent,
			unless(r.Count(deadNotYet), " (in %d a slow first exchange made the RTO longer and the limit was not reached before Close)"))
	}
	sec, _ := r.Quantile(recoveredAfterLimit, limit, 0.5)
	back, _ := r.Quantile(recoveredAfterLimit, expect.EventGap("", isWriteOf(deadLinkPing2Data), isReadOf(deadLinkPing2Data)), 0.5)
	return fmt.Sprintf("Yes, it recovers: in %d of %d trials the message passed the dead-link limit (its 20th copy %.1f s after the Write, kcp.go:948-949) "+
		"with no error on either side, and the first copy after the path came back was delivered and echoed, %.1f s (median) after the Write%s.",
		r.Count(recoveredAfterLimit), n, sec, back/1000,
		unless(r.Count(recoveredBeforeLimit), " (in %d more the RTO was longer and a copy no later than the 20th got through)"))
}

// unless formats a clause about k trials, or returns "" when k is 0.
func unless(k int, format string) string {
	if k == 0 {
		return ""
	}
	return fmt.Sprintf(format, k)
}

// bothRead checks that the client's Reads, then the server's, returned exactly want.
func bothRead(want string) []harness.Check {
	var checks []harness.Check
	for _, side := range []harness.Side{harness.Client, harness.Server} {
		checks = append(checks, checkFn(fmt.Sprintf("the %s read %q", side, want), func(tr *harness.Trace) error {
			if got := string(tr.BytesRead(side, 0)); got != want {
				return fmt.Errorf("read %q", got)
			}
			return nil
		}))
	}
	return checks
}

// isWriteOf matches a successful Write of exactly data.
func isWriteOf(data string) func(harness.Event) bool {
	return func(e harness.Event) bool { return e.Kind == harness.EvWrite && e.Err == nil && string(e.Data) == data }
}

// isReadOf matches a successful Read of exactly data.
func isReadOf(data string) func(harness.Event) bool {
	return func(e harness.Event) bool { return e.Kind == harness.EvRead && e.Err == nil && string(e.Data) == data }
}

// readTimeouts measures how many of side's Reads ended in a timeout.
func readTimeouts(side harness.Side) harness.Measure {
	return harness.Measure{Name: fmt.Sprintf("%s Reads that timed out", side), Fn: func(tr *harness.Trace) (float64, bool) {
		n, _ := timedOutReads(tr, side)
		return float64(n), true
	}}
}
