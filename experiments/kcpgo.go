package experiments

// kcp-go's constants and the steps of an exchange as its timers and flushes put them on the wire: the
// words the experiments' ladders are written in.

import (
	"fmt"
	"time"

	"kcplab/harness"
	"kcplab/kcpwire"
)

// kcp-go's defaults for a Dial/Listen session (kcp.go, constants IKCP_*; see KCP-FACTS.md).
const (
	// updateInterval is the default update interval: a pending ACK waits for the next tick.
	updateInterval = 100 * time.Millisecond
	// initialRTO is the initial retransmission timeout (IKCP_RTO_DEF).
	initialRTO = 200 * time.Millisecond
	// rcvWnd is the default receive window (IKCP_WND_RCV), the wnd a segment advertises when its
	// sender's application has read everything.
	rcvWnd = 32
	// deadLink is the default dead-link limit (IKCP_DEADLINK): the transmission of a segment that
	// sets the KCP state to dead (kcp.go:948-949 in v5.7.6), a state nothing in kcp-go reads.
	deadLink = 20
)

// The client's ACK of the server's first PUSH, in the ways it leaves. Which one a trial shows is told
// by structure, not by time. When one datagram both acknowledges the client's request and brings the
// response, una advancing makes the Input that queues the response flush at once (kcp.go:639-641,
// 727-737), while it holds the session's lock: that ACK always advertises its full window less one
// (WithUnread(1)), the response still queued. When the server's ACK and response travel in separate
// datagrams, una advanced with the first, and nothing flushes on the second: the ACK waits for the next
// update tick (or the client's Close). A tick's ACK advertises the full window when the woken Read had
// taken the response by then, which it does long before a tick ~100 ms away, unless the machine
// starved the reader for a whole interval (as a loaded machine can: -race with both cores busy): then
// it advertises one less, and it is still the tick's ACK.
var (
	// response is the server's PUSH of sn 0 (the echo or the response), and responseAck the client's
	// ACK of it, untimed: the steps the ladders below are made of.
	response    = harness.Push(harness.S2C).WithSn(0).WithUna(1)
	responseAck = harness.Ack(harness.C2S).WithSn(0).WithUna(1)
	// ackAtTick is the ACK at the client's next update tick: its ticks run every interval from its
	// session's creation, just after the trial's origin, so the tick is due one interval after the
	// origin however late the response came, and can never come earlier. A class with it checks
	// ackWithResponse(false): the response came in a datagram of its own.
	ackAtTick = responseAck.At(updateInterval)
	// ackAtOnce is the ACK flushed by the Input that brought the response (or a tick right behind it),
	// before the Read took the response.
	ackAtOnce = responseAck.WithUnread(1).After(0)
)

// exchangeLadder is one request and its response, each ACKed, ending with the client's ACK of the
// response (ackAtTick or ackAtOnce).
func exchangeLadder(finalAck harness.Step) harness.Ladder {
	return harness.Ladder{
		harness.Push(harness.C2S).WithSn(0).WithUna(0),
		harness.Ack(harness.S2C).WithSn(0).WithUna(1),
		response,
		finalAck,
	}
}

// firstExchange is a message from the client's first session and its echo, each ACKed: the client's
// ACK leaves at its next update tick or at once (p001's two forms, not told apart here). Under a stall
// the server's retransmission timeout (200 ms) can fire before the ACK arrives, and the echo goes out
// once more, before the client's ACK (resentBeforeAck's shape) or after it (p001's third form), and
// is ACKed again.
func firstExchange() harness.Ladder {
	resent := response.Repeat(0, 1)
	l := exchangeLadder(responseAck)
	return append(l[:len(l)-1:len(l)-1], resent, responseAck, resent, responseAck.Repeat(0, 1))
}

// echoReAckedLate is the client's ACK of the server's retransmitted echo (firstExchange's optional
// PUSH) when it comes after what the client sent next: a retransmission that reaches the client just
// after its next Write has flushed waits for the client's next update tick (every 100 ms at the
// default interval) to be ACKed.
var echoReAckedLate = responseAck.Repeat(0, 1)

// nextMessage is one transmission of the client's second message, msg, after a first exchange.
func nextMessage(msg string) harness.Step {
	return harness.Push(harness.C2S).WithSn(1).WithUna(1).WithLen(uint32(len(msg)))
}

// lateAckRetransmitted is an exchange whose client ACK came after the server's retransmission
// timeout (200 ms): a machine that starved the client for that long makes the server send its
// response again, and the client ACKs it once more. l is the exchange up to the response.
func lateAckRetransmitted(l harness.Ladder) harness.Ladder {
	return append(l[:len(l):len(l)], responseAck, response, responseAck)
}

// resentBeforeAck is ladder l (ending with the server's PUSH) followed by what comes when the server's
// retransmission timeout fires before the client has ACKed at all: the PUSH again, then the client's
// ACK of each copy.
func resentBeforeAck(l harness.Ladder) harness.Ladder {
	return append(l[:len(l):len(l)], response, responseAck, responseAck)
}

// resentAckedOnce is resentBeforeAck when both copies reached the client before its next flush: a
// flush sends, of the ACKs of a sn already received, only the last one queued (kcp.go:794-795), so
// one ACK answers both copies.
func resentAckedOnce(l harness.Ladder) harness.Ladder {
	return append(l[:len(l):len(l)], response, responseAck)
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

// anySegments is a ladder that matches any sequence of up to `rounds` runs of segments travelling in
// the given directions, each a PUSH, ACK, WASK or WINS, on the wire or dropped by the link: for
// experiments whose classes are decided by their checks (what the segments and the applications
// did), not by one exact ladder. Each round lists every kind once, so a trial matches on its first
// attempt when it has at most `rounds` runs of one kind; the ladder never needs to backtrack.
func anySegments(rounds int, dirs ...harness.Dir) harness.Ladder {
	var round harness.Ladder
	for _, d := range dirs {
		for _, c := range []kcpwire.Cmd{kcpwire.CmdPush, kcpwire.CmdAck, kcpwire.CmdWask, kcpwire.CmdWins} {
			s := harness.Step{Dir: d, Cmd: c, Sn: harness.Any, Una: harness.Any, Len: harness.Any, Unread: harness.Any}.Repeat(0, 1<<20)
			round = append(round, s, s.DroppedByLink())
		}
	}
	var l harness.Ladder
	for range rounds {
		l = append(l, round...)
	}
	return l
}
