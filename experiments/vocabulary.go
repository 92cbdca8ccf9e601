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

// The client's ACK of the server's first PUSH, in the three ways it leaves. Which one a trial shows is
// told by the ACK's wnd, not by its time: an ACK flushed while the response still sat in the client's
// receive queue advertises rcvWnd-1; one flushed after the client's Read took it advertises rcvWnd.
// The client's Read is blocked waiting when the response arrives, and the Input that queues it holds
// the session's lock until its own flush is done (kcp.go:727-737, flushSegments on una advancing), so
// an ACK sent by that Input always says rcvWnd-1, while the next update tick runs ~100 ms later, long
// after the woken Read took the data, and says rcvWnd. A machine that delays either by tens of
// milliseconds cannot flip the wnd; only a stall that holds the woken reader for a whole update
// interval while the tick runs could.
var (
	// ackAtTick is the ACK at the client's next update tick: its ticks run every interval from its
	// session's creation, just before the trial's origin, so the tick is due one interval after the
	// origin however late the response came, and can never come earlier.
	ackAtTick = harness.Ack(harness.C2S).WithSn(0).WithUna(1).WithWnd(rcvWnd).At(updateInterval)
	// ackAtOnce is the ACK flushed by the Input that brought the response (or a tick right behind it),
	// before the Read took the response: when one datagram both acknowledges the client's request and
	// brings the response, una advancing makes Input flush at once (kcp.go:639-641, 727-737).
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
