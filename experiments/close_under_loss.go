package experiments

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"kcplab/expect"
	"kcplab/harness"
	"kcplab/kcpwire"
	"kcplab/link"
)

// close-under-loss (kcp-go issues #144, #233): p003's Write-then-Close over a link that loses 1%, 10%
// and 30% of the datagrams in each direction, independently. How often does the response arrive, and
// when it does not, why not?
//
// Server: p003's (the seed's): Read once, expect "handshake", Write time.Now().String(), Close.
// Client: p003's: Write "handshake", then Read with a 1 s deadline until an error.
//
// Expected ladder, read like a packetdrill script (any segment may also be dropped by the link):
//
//	c→s PUSH sn=0 una=0 len=9     the request, again at +200 ms and +600 ms while unacknowledged
//	                              (rto += rx_rto, kcp.go:919-922); each copy that reaches the listener
//	                              after the previous session closed makes a new session (sess.go:1350-1367)
//	s→c ACK  sn=0 una=1           the session's first flush: ACKs only, cwnd starts at 0 (kcp.go:853-863;
//	                              raised to 1 at the end of that flush, kcp.go:995-998)
//	s→c PUSH sn=0 una=1 len=N     the response, from the next flush: the first update tick or Close's
//	c→s ACK  sn=0 una=1           the client's ACK, which nobody retransmits for
//
// but in kcp-go v5.7 a flush only queues datagrams for a worker goroutine, and Close flushes
// (sess.go:531), closes die (sess.go:532) and then discards whatever the workers had not sent yet
// (sess.go:541, discardPostProcess, postprocess.go:144-153): Close usually drops the response and
// often the ACK too, and nothing is retransmitted after Close. Loss adds two more ways to miss the
// response: every copy of the request is dropped, or every response a session got out is dropped.
//
// So the classes are outcomes, each decided by what the application saw and which segments left:
// the ladder matches any sequence of data and ACK segments (anySegments), the checks decide.
var (
	culDelivered = harness.Class{
		Name:        "delivered",
		Description: "the client read the response of one of the server's sessions",
		Ladder:      culLadder,
		Checks:      []harness.Check{culClientRead(true)},
	}
	culNoRequest = harness.Class{
		Name:        "request never arrived",
		Description: "the link dropped every copy of the request: no server session read it",
		Ladder:      culLadder,
		Checks:      []harness.Check{culClientRead(false), culServerRead(false)},
	}
	culNothingAnswered = culUndelivered("nothing answered: Close discarded the ACK and the response",
		"sessions read the request and wrote the response, but nothing ever left the server: each Close discarded its ACK and its response",
		culSent("ACKs", kcpwire.CmdAck, "none sent", none), culResponses("none sent", none))
	culLostAtClose = culUndelivered("response lost at Close",
		"a session's ACK of the request left the server, but no response ever did: each Close discarded it",
		culSent("ACKs", kcpwire.CmdAck, "some sent", some), culResponses("none sent", none))
	culDroppedByLink = culUndelivered("response dropped by the link",
		"responses left the server, and the link dropped every one of them",
		culResponses("all dropped by the link", allDropped))
	culTooLate = culUndelivered("response arrived after the client gave up",
		"a response crossed the wire, but the client's Read had already timed out",
		culResponses("one crossed the wire", onWire))
)

// culLadder matches any exchange of data and ACKs between the two peers (up to 100 runs of a kind).
var culLadder = anySegments(100, harness.C2S, harness.S2C)

// culUndelivered is the class of a trial in which a server session read the request and the client
// read nothing; why checks what became of the server's segments.
func culUndelivered(name, description string, why ...harness.Check) harness.Class {
	return harness.Class{Name: name, Description: description, Ladder: culLadder,
		Checks: append([]harness.Check{culClientRead(false), culServerRead(true)}, why...)}
}

func init() {
	register(&harness.Experiment{
		ID:           "close-under-loss",
		Title:        "p003's Write-then-Close over a lossy link",
		Question:     "With 1%, 10% and 30% loss, how often does the response of a server that writes it and closes at once reach the client (kcp-go #144, #233)?",
		Answer:       culAnswer,
		ServerScript: handshakeServer(0),
		ClientScript: handshakeClient,
		Links:        []link.Config{link.MustParse("loss=1%"), link.MustParse("loss=10%"), link.MustParse("loss=30%")},
		Trials:       200,
		Timeout:      5 * time.Second,
		Classes:      []harness.Class{culDelivered, culNoRequest, culNothingAnswered, culLostAtClose, culDroppedByLink, culTooLate},
		Invariants: append(wireInvariants(), expect.ReadEndsInTimeout(harness.Client), sessionsReadTheRequest(),
			checkFn("the link drops only what its SPEC allows (no delay, no duplicates)", culNoDuplicates)),
		Timings: []harness.Timing{expect.ReadTimeoutAfter(harness.Client, time.Second)},
		Measures: []harness.Measure{
			expect.Accepts(),
			culCount("transmissions of the request (on the wire + dropped)", harness.C2S, kcpwire.CmdPush, true),
			culCount("responses sent by the server (on the wire + dropped)", harness.S2C, kcpwire.CmdPush, true),
			culCount("responses that crossed the wire", harness.S2C, kcpwire.CmdPush, false),
			culCount("server ACKs sent (on the wire + dropped)", harness.S2C, kcpwire.CmdAck, true),
			{Name: "request → first response on the wire (ms)", Fn: culFirstResponse},
		},
	})
}

// culClientRead checks whether the client read a response some server session wrote (want true) or
// read nothing at all (want false).
func culClientRead(want bool) harness.Check {
	if !want {
		return expect.ReadNothing(harness.Client)
	}
	return checkFn("the client read the response of a server session", func(tr *harness.Trace) error {
		if sessionThatWroteWhatClientRead(tr, 1) > 0 {
			return nil
		}
		return fmt.Errorf("read %d bytes, no server session wrote them", len(tr.BytesRead(harness.Client, 0)))
	})
}

// culServerRead checks whether some server session read the request (want true) or none did.
func culServerRead(want bool) harness.Check {
	name := "no server session read the request"
	if want {
		name = "a server session read the request"
	}
	return checkFn(name, func(tr *harness.Trace) error {
		read := 0
		for s := 1; s <= tr.Accepts; s++ {
			if len(tr.BytesRead(harness.Server, s)) > 0 {
				read++
			}
		}
		if (read > 0) != want {
			return fmt.Errorf("%d of %d sessions read it", read, tr.Accepts)
		}
		return nil
	})
}

// culResponses checks the server's PUSH segments: how many crossed the wire and how many the link dropped.
func culResponses(what string, ok func(wire, dropped int) bool) harness.Check {
	return culSent("responses", kcpwire.CmdPush, what, ok)
}

// culSent checks the server's segments of one cmd: how many crossed the wire and how many the link dropped.
func culSent(noun string, c kcpwire.Cmd, what string, ok func(wire, dropped int) bool) harness.Check {
	return checkFn("the server's "+noun+": "+what, func(tr *harness.Trace) error {
		segs := tr.Segs().Dir(harness.S2C).Cmd(c)
		if w, d := len(segs.OnWire()), len(segs.DroppedByLink()); !ok(w, d) {
			return fmt.Errorf("%d on the wire, %d dropped by the link", w, d)
		}
		return nil
	})
}

// Predicates on (segments on the wire, segments dropped by the link).
func none(w, d int) bool       { return w+d == 0 }
func some(w, d int) bool       { return w+d > 0 }
func allDropped(w, d int) bool { return d > 0 && w == 0 }
func onWire(w, _ int) bool     { return w > 0 }

// culNoDuplicates checks that a loss-only link never delivered a datagram twice or late: every
// datagram the link let through is on the wire exactly once.
func culNoDuplicates(tr *harness.Trace) error {
	if tr.Link == nil {
		return errors.New("no link")
	}
	for _, r := range tr.Link.Records {
		if r.DeliveredCopies() > 1 {
			return fmt.Errorf("%s delivered %d times", r, r.DeliveredCopies())
		}
	}
	return nil
}

// culCount counts the segments of one direction and cmd (with or without those the link dropped).
func culCount(name string, d harness.Dir, c kcpwire.Cmd, withDropped bool) harness.Measure {
	return harness.Measure{Name: name, Fn: func(tr *harness.Trace) (float64, bool) {
		segs := tr.Segs().Dir(d).Cmd(c)
		if !withDropped {
			segs = segs.OnWire()
		}
		return float64(len(segs)), true
	}}
}

// culFirstResponse is the time from the client's first request to the first response on the wire.
func culFirstResponse(tr *harness.Trace) (float64, bool) {
	s, ok := tr.Segs().Dir(harness.S2C).Cmd(kcpwire.CmdPush).OnWire().First()
	if !ok {
		return 0, false
	}
	return float64(s.Time-tr.Segments[0].Time) / float64(time.Millisecond), true
}

func culAnswer(r *harness.Result) string {
	n := len(r.Trials)
	d := r.Count(culDelivered)
	return fmt.Sprintf("Over a link losing %s of the datagrams each way the response arrived in %d of %d trials (%.1f%%); in the others "+
		"the server's Close discarded it (%d, in %d of them with the ACK too, so the client kept retransmitting its request; sess.go:531-541), "+
		"the link dropped every response sent (%d) or every copy of the request (%d), or it arrived after the client gave up (%d).",
		culLoss(r), d, n, 100*float64(d)/float64(max(n, 1)), r.Count(culLostAtClose)+r.Count(culNothingAnswered), r.Count(culNothingAnswered),
		r.Count(culDroppedByLink), r.Count(culNoRequest), r.Count(culTooLate))
}

// culLoss is the loss of the run's link, e.g. "10%", from its SPEC "loss=10%".
func culLoss(r *harness.Result) string {
	spec := r.Experiment.Link.String()
	if v, ok := strings.CutPrefix(spec, "loss="); ok {
		return v
	}
	return spec
}
