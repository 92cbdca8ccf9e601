package experiments

// The vocabulary the experiments share: kcp-go's constants, the steps and ladders of an exchange, the
// seed series' roles, the checks and measures several experiments use. An experiment file depends on
// this file and on the harness, never on another experiment.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
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
)

// The client's ACK of the server's first PUSH, in the ways it leaves. Which one a trial shows is told
// by structure, not by time. When one datagram both acknowledges the client's request and brings the
// response, una advancing makes the Input that queues the response flush at once (kcp.go:639-641,
// 727-737), while it holds the session's lock: that ACK always advertises rcvWnd-1, the response still
// queued. When the server's ACK and response travel in separate datagrams, una advanced with the first,
// and nothing flushes on the second: the ACK waits for the next update tick (or the client's Close).
// A tick's ACK says rcvWnd when the woken Read had taken the response by then, which it does long
// before a tick ~100 ms away, unless the machine starved the reader for a whole interval (seen under
// -race with both cores busy): then it says rcvWnd-1, and it is still the tick's ACK.
var (
	// ackAtTick is the ACK at the client's next update tick: its ticks run every interval from its
	// session's creation, just before the trial's origin, so the tick is due one interval after the
	// origin however late the response came, and can never come earlier. A class with it checks
	// ackWithResponse(false): the response came in a datagram of its own.
	ackAtTick = harness.Ack(harness.C2S).WithSn(0).WithUna(1).At(updateInterval)
	// ackAtTickAfterRead is the tick's ACK once the Read took the response: where the datagrams do not
	// tell the tick from an earlier flush (p003-nocwnd), the wnd does.
	ackAtTickAfterRead = ackAtTick.WithWnd(rcvWnd)
	// ackAtOnce is the ACK flushed by the Input that brought the response (or a tick right behind it),
	// before the Read took the response.
	ackAtOnce = harness.Ack(harness.C2S).WithSn(0).WithUna(1).WithWnd(rcvWnd - 1).After(0)
	// ackByClose is the ACK flushed by the client's Close right after its Read took the response.
	ackByClose = harness.Ack(harness.C2S).WithSn(0).WithUna(1).WithWnd(rcvWnd).After(0)
)

const (
	httpIdle    = time.Second             // the server's IdleTimeout (and ReadHeaderTimeout)
	httpTimeout = time.Second             // the client's timeout for the whole request
	httpBound   = 1500 * time.Millisecond // the server role closes a session net/http still holds
)

// handshakeMeasures are reported per class for p003 and its variants.
var handshakeMeasures = []harness.Measure{
	harness.Accepts(),
	harness.SegmentGap("request → its ACK (ms)", 0, 1),
	harness.SegmentGap("request → response (ms)", 0, 2),
	harness.SegmentGap("response → its ACK (ms)", 2, 3),
	harness.SegmentGap("request → the client's ACK of the response (ms)", 0, 3),
	harness.EventGap("server Write → Close returned (ms)", harness.EventIs(harness.Server, harness.EvWrite), harness.EventIs(harness.Server, harness.EvClose)),
}

// wireInvariants are the invariants every experiment over a clean link lists: nothing before the
// client's first PUSH (no handshake) and nothing but data and its ACKs (no teardown, no keepalive).
func wireInvariants() []harness.Check {
	return []harness.Check{harness.NoHandshake(), harness.OnlyDataAndAcks()}
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

// timeClient writes the time, then reads with a 1 s deadline until an error.
func timeClient(conn net.Conn) error {
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

// responseRetransmissions measures how often the server sent its first PUSH again.
func responseRetransmissions() harness.Measure {
	return harness.Measure{Name: "retransmissions of the server's response", Fn: func(tr *harness.Trace) (float64, bool) {
		sent := 0
		for _, s := range tr.Segments {
			if s.Dir == harness.S2C && s.Cmd == kcpwire.CmdPush && s.Sn == 0 {
				sent++
			}
		}
		return float64(max(sent-1, 0)), sent > 0
	}}
}

// lateAckRetransmitted is an exchange whose client ACK came after the server's retransmission
// timeout (200 ms): a machine that starved the client for that long makes the server send its
// response again, and the client ACKs it once more. l is the exchange up to the response.
func lateAckRetransmitted(l harness.Ladder) harness.Ladder {
	ack := harness.Ack(harness.C2S).WithSn(0).WithUna(1)
	return append(l[:len(l):len(l)], ack, harness.Push(harness.S2C).WithSn(0).WithUna(1), ack)
}

// handshakeLadder is the request/response exchange of p003, step by step, ending with the client's ACK
// of the response (ackAtTick or ackAtOnce).
func handshakeLadder(finalAck harness.Step) harness.Ladder {
	l := exchangeLadder(finalAck)
	l[0] = l[0].WithLen(uint32(len(handshake)))
	return l
}

// unansweredRequest is a request nobody acknowledged: the client sends it at 0 and again at +200 ms
// and +600 ms by its own clock (initial RTO, then rto += rx_rto: kcp.go, flush), three copies before
// its 1 s read deadline; each copy reaches a listener whose session for it was closed, so each makes
// a new session.
func unansweredRequest() harness.Ladder {
	req := harness.Push(harness.C2S).WithSn(0).WithUna(0).WithLen(uint32(len(handshake)))
	return harness.Ladder{req, req.After(initialRTO), req.After(2 * initialRTO)}
}

// requestCopies is the request sent count times (retransmitted unacknowledged), in one step.
func requestCopies(min, max int) harness.Step {
	return harness.Push(harness.C2S).WithSn(0).WithUna(0).Repeat(min, max)
}

// answeredByLaterSession is an exchange in which the first session's Close dropped everything: the
// request went out again, and a session made by a copy got its ACK and answer out; the client ACKs the
// answer unless its session is gone (finalAck).
func answeredByLaterSession(finalAck bool) harness.Ladder {
	l := harness.Ladder{requestCopies(2, 3), harness.Ack(harness.S2C).WithSn(0).WithUna(1), harness.Push(harness.S2C).WithSn(0).WithUna(1)}
	if finalAck {
		l = append(l, harness.Ack(harness.C2S).WithSn(0).WithUna(1))
	}
	return l
}

// clientReadALaterAnswer checks that the client read exactly what one server session after the first
// wrote: an answer to a copy of its request.
func clientReadALaterAnswer() harness.Check {
	return harness.Check{Name: "the client read the answer of a later session", Fn: func(tr *harness.Trace) error {
		got := tr.BytesRead(harness.Client, 0)
		for s := 2; s <= tr.Accepts; s++ {
			if w := tr.BytesWritten(harness.Server, s); len(w) > 0 && string(got) == string(w) {
				return nil
			}
		}
		return fmt.Errorf("read %d bytes, no later session wrote them", len(got))
	}}
}

// The outcomes of a handshake exchange (p003 and its variants) whose server's Close discards what it
// queued: kcp-go v5.7 sends through a shared pool of sender goroutines, and Close drops what they
// have not sent (v5.7.6 sess.go:523-541, postprocess.go:144). The experiments that show them share
// these classes.
var (
	closeLost = harness.Class{
		Name:        "response lost at Close",
		Description: "request and its ACK only: the server's Close dropped the queued response",
		Ladder:      handshakeLadder(ackAtTick)[:2],
		Checks:      []harness.Check{harness.ReadNothing(harness.Client)},
	}
	closeUnanswered = harness.Class{
		Name:        "nothing answered: each copy of the request made a new session",
		Description: "the server's Close dropped its ACK too; the client sent the request three times and each copy made a new session that answered into the void",
		Ladder:      unansweredRequest(),
		Checks:      []harness.Check{harness.ReadNothing(harness.Client), harness.AcceptedSessions(3)},
	}
	closeCopyAcked = harness.Class{
		Name:        "a copy of the request ACKed, nothing delivered",
		Description: "the first session's Close dropped everything; a later session, made by a copy of the request, got its ACK out before its Close",
		Ladder:      harness.Ladder{requestCopies(2, 3), harness.Ack(harness.S2C).WithSn(0).WithUna(1)},
		Checks:      []harness.Check{harness.ReadNothing(harness.Client)},
	}
	closeLaterSession = harness.Class{
		Name:        "delivered by a later session",
		Description: "the first session's Close dropped everything; a session made by a copy of the request got its ACK and response out",
		Ladder:      answeredByLaterSession(true),
		Checks:      []harness.Check{clientReadALaterAnswer()},
	}
)

// sessionsReadTheRequest checks that every accepted session that read anything read exactly what the
// client wrote: a session made by a retransmitted request reads it again, one made by a stray ACK
// reads nothing.
func sessionsReadTheRequest() harness.Check {
	return harness.Check{Name: "each server session read the client's request or nothing", Fn: func(tr *harness.Trace) error {
		want := tr.BytesWritten(harness.Client, 0)
		for s := 1; s <= tr.Accepts; s++ {
			if got := tr.BytesRead(harness.Server, s); len(got) > 0 && string(got) != string(want) {
				return fmt.Errorf("server#%d read %d bytes, the client wrote %d", s, len(got), len(want))
			}
		}
		return nil
	}}
}

// handshakeServer is the seed's server; linger, when not nil, runs between the Write and the Close.
func handshakeServer(linger func(net.Conn)) harness.Role {
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

// handshakeClient is the seed's client: one request, then Read with a 1 s deadline until an error.
func handshakeClient(conn net.Conn) error {
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

const handshake = "handshake"

// errHTTPHung is what the server role returns when net/http still held the session at httpBound.
var errHTTPHung = errors.New("net/http still held the session")

// httpServerHung checks whether the first session's server role ended with errHTTPHung (want true)
// or with net/http closing the session itself (want false).
func httpServerHung(want bool) harness.Check {
	name := "net/http closed the session itself"
	if want {
		name = fmt.Sprintf("net/http still held the session after %v", httpBound)
	}
	return harness.Check{Name: name, Fn: func(tr *harness.Trace) error {
		if len(tr.ServerErr) == 0 {
			return errors.New("no session was accepted")
		}
		if got := errors.Is(tr.ServerErr[0], errHTTPHung); got != want {
			return fmt.Errorf("the server role returned %v", tr.ServerErr[0])
		}
		return nil
	}}
}

// dumpRequest answers a small JSON dump of the request.
func dumpRequest(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"method": r.Method, "url": r.URL.String(), "proto": r.Proto, "header": r.Header})
}

// httpServer serves HTTP on the one session until net/http closes it, or closes it after httpBound.
func httpServer(conn net.Conn) error {
	c := newCloseConn(conn)
	srv := &http.Server{Handler: http.HandlerFunc(dumpRequest), ReadHeaderTimeout: httpIdle, IdleTimeout: httpIdle,
		ErrorLog: log.New(io.Discard, "", 0)}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(newOneConnListener(c)) }()
	var err error
	select {
	case <-c.done:
	case <-time.After(httpBound):
		err = fmt.Errorf("%w after %v", errHTTPHung, httpBound)
	}
	_ = srv.Close() // closes the listener and, after a hang, the session
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}

// httpClient GETs a JSON dump over the trial's session. Without keep-alives it waits (bounded) for
// the Transport to close the session; with them, it returns and leaves the session idle in the pool.
func httpClient(keepAlive bool) harness.Role {
	return func(conn net.Conn) error {
		c := newCloseConn(conn)
		var dialed atomic.Bool
		tr := &http.Transport{
			DialContext: func(context.Context, string, string) (net.Conn, error) {
				if dialed.Swap(true) {
					return nil, errors.New("the trial's session was already dialed")
				}
				return c, nil
			},
			DisableKeepAlives: !keepAlive,
		}
		client := &http.Client{Transport: tr, Timeout: httpTimeout}
		resp, err := client.Get("http://" + conn.RemoteAddr().String() + "/echo")
		if err != nil {
			return err
		}
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			return err
		}
		var dump struct{ Method string }
		if err := json.Unmarshal(body, &dump); err != nil || resp.StatusCode != http.StatusOK || dump.Method != http.MethodGet {
			return fmt.Errorf("unexpected response %s %q (%v)", resp.Status, body, err)
		}
		if keepAlive {
			return nil
		}
		select {
		case <-c.done:
			return nil
		case <-time.After(httpTimeout):
			return errors.New("the Transport did not close the session")
		}
	}
}

// closeConn is a net.Conn that closes done on its first Close, so a role can wait for net/http to
// close the session it was handed.
type closeConn struct {
	net.Conn
	once sync.Once
	done chan struct{}
}

func newCloseConn(c net.Conn) *closeConn { return &closeConn{Conn: c, done: make(chan struct{})} }

// Close closes the session once and reports it on done; later calls return net.ErrClosed.
func (c *closeConn) Close() error {
	err := net.ErrClosed
	c.once.Do(func() {
		err = c.Conn.Close()
		close(c.done)
	})
	return err
}

// oneConnListener is a net.Listener that hands out one connection, then blocks in Accept until closed:
// it lets an http.Server serve the single session a role is given.
type oneConnListener struct {
	conns chan net.Conn
	addr  net.Addr
	once  sync.Once
	done  chan struct{}
}

func newOneConnListener(c net.Conn) *oneConnListener {
	l := &oneConnListener{conns: make(chan net.Conn, 1), addr: c.LocalAddr(), done: make(chan struct{})}
	l.conns <- c
	return l
}

// Accept returns the connection the first time, then net.ErrClosed once the listener is closed.
func (l *oneConnListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close makes Accept return net.ErrClosed; it does not close a connection already handed out.
func (l *oneConnListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr is the session's local address.
func (l *oneConnListener) Addr() net.Addr { return l.addr }

// ---- Process events (idle-peer, server-restart, port-reuse): roles that use the trial's harness.Env
// to kill or restart the server's process or to dial again from the client's address.

// settleIdle is how long a client stays idle after its first exchange before the experiment acts: the
// client's ACK of the echo leaves at its next update tick (at most updateInterval later), so after
// this nothing is in flight and no timer of either side has anything to send.
const settleIdle = 2 * updateInterval

// exchangeDeadline is the read deadline of the echo exchanges before and after the event: long enough
// that only a stalled machine of seconds could break one (the echo comes back within a millisecond).
const exchangeDeadline = 2 * time.Second

// envOf returns the harness.Env of the trial whose role was handed conn.
func envOf(conn net.Conn) (*harness.Env, error) {
	env, ok := harness.EnvOf(conn)
	if !ok {
		return nil, errors.New("the role's conn carries no harness.Env")
	}
	return env, nil
}

// echoOnce writes msg and reads until it has len(msg) bytes back, with a read deadline of d.
func echoOnce(conn net.Conn, msg string, d time.Duration) error {
	if _, err := conn.Write([]byte(msg)); err != nil {
		return err
	}
	_ = conn.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(conn, buf); err != nil {
		return err
	}
	if string(buf) != msg {
		return fmt.Errorf("echo %q, wrote %q", buf, msg)
	}
	return nil
}

// echoServerFor is echoServer with a read deadline of d.
func echoServerFor(d time.Duration) harness.Role {
	return func(conn net.Conn) error {
		defer conn.Close()
		buf := make([]byte, 4096)
		for {
			_ = conn.SetReadDeadline(time.Now().Add(d))
			n, err := conn.Read(buf)
			if err != nil {
				return err
			}
			if _, err := conn.Write(buf[:n]); err != nil {
				return err
			}
		}
	}
}

// firstExchange is a message from the client's first session and its echo, each ACKed: the client's
// ACK leaves at its next update tick or at once (p001's two forms, not told apart here), and under a
// stall of over 100 ms the echo goes out once more and is ACKed again (p001's third form).
func firstExchange() harness.Ladder {
	return harness.Ladder{
		harness.Push(harness.C2S).WithSn(0).WithUna(0),
		harness.Ack(harness.S2C).WithSn(0).WithUna(1),
		harness.Push(harness.S2C).WithSn(0).WithUna(1),
		harness.Ack(harness.C2S).WithSn(0).WithUna(1),
		harness.Push(harness.S2C).WithSn(0).WithUna(1).Repeat(0, 1),
		harness.Ack(harness.C2S).WithSn(0).WithUna(1).Repeat(0, 1),
	}
}

// eventAfter returns the first event after the first event matching from that matches to.
func eventAfter(tr *harness.Trace, from, to func(harness.Event) bool) (harness.Event, bool) {
	seen := false
	for _, e := range tr.Events {
		switch {
		case !seen && from(e):
			seen = true
		case seen && to(e):
			return e, true
		}
	}
	return harness.Event{}, false
}

// isEvent matches an event by side, kind and session (harness.Event.Session).
func isEvent(side harness.Side, kind harness.EventKind, session int) func(harness.Event) bool {
	return func(e harness.Event) bool { return e.Side == side && e.Kind == kind && e.Session == session }
}

// serverRoleEnded checks that server#n's role ended with one of the outcomes want
// (harness.Trace.ServerOutcome: an error's outcome, or torn down by the trial).
func serverRoleEnded(n int, want ...harness.Outcome) harness.Check {
	names := make([]string, len(want))
	for i, o := range want {
		names[i] = o.String()
	}
	return harness.Check{Name: fmt.Sprintf("server#%d's role ended %s", n, strings.Join(names, " or ")), Fn: func(tr *harness.Trace) error {
		got, ok := tr.ServerOutcome(n)
		if !ok {
			return fmt.Errorf("only %d session(s) accepted", len(tr.ServerErr))
		}
		if !slices.Contains(want, got) {
			how := harness.ErrClass(tr.ServerErr[n-1]) // the message, for an error of no named outcome
			if got == harness.OutcomeTornDown {
				how = got.String()
			}
			return fmt.Errorf("it ended %s (%v)", how, tr.ServerErr[n-1])
		}
		return nil
	}}
}

// percentile returns the p-th percentile (0-100, nearest rank) of the values of m over the trials of
// class c, and how many trials had one.
func percentile(r *harness.Result, c harness.Class, m harness.Measure, p float64) (float64, int) {
	var vs []float64
	for _, t := range r.Of(c) {
		if t.Trace == nil {
			continue
		}
		if v, ok := m.Fn(t.Trace); ok {
			vs = append(vs, v)
		}
	}
	if len(vs) == 0 {
		return 0, 0
	}
	sort.Float64s(vs)
	i := int(p/100*float64(len(vs)) + 0.5)
	return vs[min(max(i-1, 0), len(vs)-1)], len(vs)
}

// --- The dead-link vocabulary (nobody-listening, dead-link) ---

// deadLink is kcp-go's default dead-link limit (IKCP_DEADLINK): the transmission of a segment that
// sets the KCP state to dead (kcp.go:948-949 in v5.7.6), a state nothing in kcp-go reads.
const deadLink = 20

// transmissions returns the times of every transmission of segment sn in direction d (PUSH segments,
// including the copies a link dropped), in order.
func transmissions(tr *harness.Trace, d harness.Dir, sn uint32) []time.Duration {
	var out []time.Duration
	for _, s := range tr.Segments {
		if s.Dir == d && s.Cmd == kcpwire.CmdPush && s.Sn == sn {
			out = append(out, s.Time)
		}
	}
	return out
}

// transmissionAt measures, in seconds since the trial's start, the k-th (1-based) transmission of
// segment sn in direction d.
func transmissionAt(name string, d harness.Dir, sn uint32, k int) harness.Measure {
	return harness.Measure{Name: name, Fn: func(tr *harness.Trace) (float64, bool) {
		ts := transmissions(tr, d, sn)
		if len(ts) < k {
			return 0, false
		}
		return ts[k-1].Seconds(), true
	}}
}

// transmissionCount measures how often segment sn went out in direction d (dropped copies included).
func transmissionCount(name string, d harness.Dir, sn uint32) harness.Measure {
	return harness.Measure{Name: name, Fn: func(tr *harness.Trace) (float64, bool) {
		n := len(transmissions(tr, d, sn))
		return float64(n), n > 0
	}}
}

// noErrorButTimeout checks that every Read, Write and Close of side returned either nothing wrong or a
// deadline timeout: kcp-go never reported the dead path (no dead-link error, no EOF, no closed pipe).
func noErrorButTimeout(side harness.Side) harness.Check {
	return harness.Check{Name: fmt.Sprintf("the %s saw no error but read timeouts", side), Fn: func(tr *harness.Trace) error {
		for _, e := range tr.EventsOf(side, 0) {
			switch e.Kind {
			case harness.EvRead, harness.EvWrite, harness.EvClose:
				if e.Err != nil && !harness.IsTimeout(e.Err) {
					return fmt.Errorf("%s", e)
				}
			}
		}
		return nil
	}}
}

// readsTimedOut checks that side's Reads all ended in a timeout (want: how many, at least).
func readsTimedOut(side harness.Side, want int) harness.Check {
	return harness.Check{Name: fmt.Sprintf("the %s's Reads all timed out (at least %d)", side, want), Fn: func(tr *harness.Trace) error {
		n := 0
		for _, e := range tr.EventsOf(side, 0) {
			if e.Kind != harness.EvRead {
				continue
			}
			if !harness.IsTimeout(e.Err) {
				return fmt.Errorf("%s", e)
			}
			n++
		}
		if n < want {
			return fmt.Errorf("%d Read(s) timed out, want at least %d", n, want)
		}
		return nil
	}}
}

// medianOf returns the median of a measure over a class's trials, and how many trials had a value.
func medianOf(r *harness.Result, c harness.Class, m harness.Measure) (float64, int) {
	var vals []float64
	for _, t := range r.Of(c) {
		if v, ok := m.Fn(t.Trace); ok {
			vals = append(vals, v)
		}
	}
	if len(vals) == 0 {
		return 0, 0
	}
	sort.Float64s(vals)
	n := len(vals)
	if n%2 == 1 {
		return vals[n/2], n
	}
	return (vals[n/2-1] + vals[n/2]) / 2, n
}

// readOnly checks that side's Reads returned exactly want.
func readOnly(side harness.Side, want string) harness.Check {
	return harness.Check{Name: fmt.Sprintf("the %s read %q", side, want), Fn: func(tr *harness.Trace) error {
		if got := string(tr.BytesRead(side, 0)); got != want {
			return fmt.Errorf("read %q", got)
		}
		return nil
	}}
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
		n := 0
		for _, e := range tr.EventsOf(side, 0) {
			if e.Kind == harness.EvRead && harness.IsTimeout(e.Err) {
				n++
			}
		}
		return float64(n), true
	}}
}

// minTime returns the earlier of a and b.
func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
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

// --- close-under-loss and garbage-datagram ---

// anySegments is a ladder that matches any sequence of up to `rounds` runs of segments travelling in
// the given directions, each a PUSH, ACK, WASK or WINS, on the wire or dropped by the link: for
// experiments whose classes are decided by their checks (what the segments and the applications
// did), not by one exact ladder. Each round lists every kind once, so a trial matches on its first
// attempt when it has at most `rounds` runs of one kind; the ladder never needs to backtrack.
func anySegments(rounds int, dirs ...harness.Dir) harness.Ladder {
	var round harness.Ladder
	for _, d := range dirs {
		for _, c := range []kcpwire.Cmd{kcpwire.CmdPush, kcpwire.CmdAck, kcpwire.CmdWask, kcpwire.CmdWins} {
			s := harness.Step{Dir: d, Cmd: c, Sn: harness.Any, Una: harness.Any, Len: harness.Any, Wnd: harness.Any}.Repeat(0, 1<<20)
			round = append(round, s, s.DroppedByLink())
		}
	}
	var l harness.Ladder
	for range rounds {
		l = append(l, round...)
	}
	return l
}

// pushes counts the segments of one direction and cmd, on the wire and dropped by the link.
func pushes(tr *harness.Trace, d harness.Dir, c kcpwire.Cmd) (wire, dropped int) {
	for _, s := range tr.Segments {
		if s.Dir != d || s.Cmd != c {
			continue
		}
		if s.Dropped != "" {
			dropped++
		} else {
			wire++
		}
	}
	return wire, dropped
}

// checkFn is a named check from a predicate and the reason it fails.
func checkFn(name string, fn func(tr *harness.Trace) error) harness.Check {
	return harness.Check{Name: name, Fn: fn}
}
