package experiments

import (
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"kcplab/expect"
	"kcplab/harness"
	"kcplab/kcpwire"
)

// port-reuse (kcp-go issues #150, #54): a client reuses its address with a new session while the
// server still holds the old one. What happens to the new session, and to the old one?
//
// Server: echo loop with a 2 s read deadline (portReuseHold: longer than the whole exchange, so the
// old session is still held when the new one starts). Client: one echo exchange ("hello") on its first
// session, idle 200 ms, Close; then a new session from the same address and port with a fresh conv
// (harness.Env.Redial: a new socket bound to the same port, as a restarted client process with a fixed
// local port would), one echo exchange ("second"), idle 200 ms, Close.
//
// Expected ladder:
//
//	c→s PUSH sn=0 una=0           "hello", conv A
//	s→c ACK  sn=0 una=1
//	s→c PUSH sn=0 una=1           the echo
//	c→s ACK  sn=0 una=1           (firstExchange); the client's Close sends nothing
//	c→s PUSH sn=0 una=0           "second", conv B, from the same address: the listener has a session
//	                              for that address with another conv, and sn is 0, so it closes the old
//	                              session and makes a new one (sess.go:1326-1339, then 1341-1367);
//	                              a datagram with another conv and sn != 0 would be dropped instead
//	s→c ACK  sn=0 una=1           conv B, the new session (server#2)
//	s→c PUSH sn=0 una=1           its echo
//	c→s ACK  sn=0 una=1           at the client's next tick, or at once
//
// The new session works as if the address were new. The old session is closed by the listener, not
// by its application: its Read, still waiting, returns io.ErrClosedPipe (sess.go:362-363: the die
// channel Close closed), the same error as after its own Close, at the moment the new session's first
// datagram arrives. Its Close flushes nothing, as it had nothing pending.
var (
	portReuseReplaced = harness.Class{
		Name:        "the new session replaces the old one, whose Read ends closed",
		Description: "the new conv's sn=0 made the listener close the old session (its Read returned io.ErrClosedPipe) and accept the new one, which echoed",
		Ladder:      append(firstExchange(), firstExchange()...), // each session's exchange (told apart by conv: portReuseTwoConvs)
		Checks: []harness.Check{
			expect.AcceptedSessions(2),
			serverRoleEnded(1, harness.OutcomeClosed),
			portReuseOldReadClosed(),
			portReuseNewSessionEchoed(),
			portReuseTwoConvs(),
		},
	}
)

const (
	portReuseMsg  = "second"
	portReuseHold = 2 * time.Second
)

func init() {
	register(&harness.Experiment{
		ID:       "port-reuse",
		Title:    "a new session from a reused client address replaces the old one at the listener",
		Question: "When a client reuses its address and port with a new session while the server still holds the old one, is the new session served, and what does the old session's application see?",
		Answer:   portReuseAnswer,
		Server:   echoLoop(portReuseHold),
		Client:   portReuseClient,
		Trials:   200,
		Timeout:  5 * time.Second,
		Classes:  []harness.Class{portReuseReplaced},
		Invariants: append(wireInvariants(),
			expect.AcceptedSessions(2),
		),
		Measures: []harness.Measure{
			expect.Accepts(),
			portReuseNewGap("new session's first PUSH → its ACK (ms)", kcpwire.CmdAck),
			portReuseNewGap("new session's first PUSH → its echo (ms)", kcpwire.CmdPush),
			portReuseOldReadEnds,
			expect.EventGap("server#1's Read ended → server#2 accepted (ms)", portReuseOldReadFailed, isEvent(harness.Server, harness.EvAccept, 2)),
		},
	})
}

func portReuseClient(conn net.Conn) error {
	env, err := helloThenIdle(conn)
	if err != nil {
		conn.Close()
		return err
	}
	if err := conn.Close(); err != nil {
		return err
	}
	c2, err := env.Redial()
	if err != nil {
		return err
	}
	defer c2.Close()
	if err := echoOnce(c2, portReuseMsg, exchangeDeadline); err != nil {
		return err
	}
	time.Sleep(settleIdle) // the ACK of the echo leaves at the next tick, before the Close
	return nil
}

// portReuseOldReadFailed matches server#1's Read that returned an error.
func portReuseOldReadFailed(e harness.Event) bool {
	return isEvent(harness.Server, harness.EvRead, 1)(e) && e.Err != nil
}

// portReuseOldReadClosed checks that server#1's Read failed with io.ErrClosedPipe before its role
// called Close: the listener, not the application, closed the session.
func portReuseOldReadClosed() harness.Check {
	return harness.Check{Name: "server#1's waiting Read returned io.ErrClosedPipe before its application closed it", Fn: func(tr *harness.Trace) error {
		for _, e := range tr.EventsOf(harness.Server, 1) {
			switch {
			case e.Kind == harness.EvClose:
				return errors.New("server#1 called Close before its Read failed")
			case portReuseOldReadFailed(e):
				if !errors.Is(e.Err, io.ErrClosedPipe) {
					return fmt.Errorf("%s", e)
				}
				return nil
			}
		}
		return errors.New("server#1's Read never failed")
	}}
}

func portReuseNewSessionEchoed() harness.Check {
	return harness.Check{Name: "server#2 read the new session's message and the client's new session read its echo", Fn: func(tr *harness.Trace) error {
		if got := tr.BytesRead(harness.Server, 2); string(got) != portReuseMsg {
			return fmt.Errorf("server#2 read %q", got)
		}
		var read []byte
		for _, e := range tr.ClientEvents(2) {
			if e.Kind == harness.EvRead && e.Err == nil {
				read = append(read, e.Data...)
			}
		}
		if string(read) != portReuseMsg {
			return fmt.Errorf("the client's new session read %q", read)
		}
		return nil
	}}
}

// portReuseTwoConvs checks that the first four segments carry one conv and the rest another.
func portReuseTwoConvs() harness.Check {
	return harness.Check{Name: "the old session's segments carry one conv, the new session's another", Fn: func(tr *harness.Trace) error {
		if len(tr.Segments) < 5 {
			return fmt.Errorf("only %d segments", len(tr.Segments))
		}
		a, b := tr.Segments[0].Conv, tr.Segments[len(tr.Segments)-1].Conv
		if a == b {
			return fmt.Errorf("both sessions use conv %d", a)
		}
		for _, s := range tr.Segments {
			if s.Conv != a && s.Conv != b {
				return fmt.Errorf("%s has a third conv %d", s, s.Conv)
			}
		}
		return nil
	}}
}

// portReuseNewSession returns the new session's first segment, the first whose conv is not the old
// session's, and false when there is none.
func portReuseNewSession(tr *harness.Trace) (harness.Seg, bool) {
	if len(tr.Segments) == 0 {
		return harness.Seg{}, false
	}
	old := tr.Segments[0].Conv
	return tr.Segs().Where(func(s harness.Seg) bool { return s.Conv != old }).First()
}

// portReuseOldReadEnds is the time from the new session's first datagram on the wire to the old
// session's Read returning.
var portReuseOldReadEnds = harness.Measure{Name: "new session's first PUSH → server#1's Read ended (ms)", Fn: func(tr *harness.Trace) (float64, bool) {
	at, ok := tr.EventAt(portReuseOldReadFailed)
	first, started := portReuseNewSession(tr)
	if !ok || !started || len(tr.Segments) < 5 {
		return 0, false
	}
	return float64(at-first.Time) / float64(time.Millisecond), true
}}

// portReuseNewGap measures the time from the new session's first segment to the server's first
// segment of cmd after it.
func portReuseNewGap(name string, cmd kcpwire.Cmd) harness.Measure {
	return harness.Measure{Name: name, Fn: func(tr *harness.Trace) (float64, bool) {
		first, started := portReuseNewSession(tr)
		s, ok := tr.Segs().Dir(harness.S2C).Cmd(cmd).After(first.Time).First()
		if !started || !ok {
			return 0, false
		}
		return float64(s.Time-first.Time) / float64(time.Millisecond), true
	}}
}

func portReuseAnswer(r *harness.Result) string {
	c := portReuseReplaced
	closed, _ := r.Quantile(c, portReuseOldReadEnds, 0.5)
	return fmt.Sprintf("The new session is served and the old one is closed under its application: in %d of %d trials the new conv's "+
		"first segment (sn 0) from the reused address made the listener close the old session and accept the new one, which echoed "+
		"at once, while the old session's waiting Read returned io.ErrClosedPipe (median %.2f ms after that segment), as if its "+
		"own application had closed it.", r.Count(c), len(r.Trials), closed)
}
