package experiments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"kcplab/harness"
)

// p004, from the seed's series: net/http over KCP with keep-alives off.
//
// Server: an http.Server serving the accepted session through a one-connection listener; its handler
// answers a small JSON dump of the request. The role returns once net/http has closed the session, or
// closes it after 1.5 s. Client: an http.Client (1 s timeout) whose Transport dials the trial's
// session, once, with DisableKeepAlives, so the request says "Connection: close"; GET, read the body,
// wait for the Transport to close the session.
//
// On "Connection: close" net/http closes the session as soon as the response is written (its 500 ms
// rstAvoidanceDelay only follows an unread request body), so the server is p003's: Write, Close.
// Expected ladders:
//
//	delivered                       c→s PUSH sn=0 una=0 len=N    the request
//	                                s→c ACK  sn=0 una=1          first flush: ACKs only (cwnd starts at 0)
//	                                s→c PUSH sn=0 una=1 len=M    the response, from the first update tick
//	                                                             or from the Close's flush
//
// and no ACK of the response: the Transport closes the client session as soon as it has the body,
// and that Close drops the ACK it flushes (see p002; the seed's capture has it 0.2 ms after the
// response). The server is already closed, so nothing is retransmitted.
//
//	response lost at Close          the request and its ACK only: the Close's flush lost its race with
//	                                the session's shutdown (see p003); the client's Get times out
//	server hung after the response  "delivered", then the response again +200, +400, +600 ms later
//	delivered, ACKed at once        "delivered", then c→s ACK within a ms, which reached the server
//	                                before its Close: either the server's ACK and response shared a
//	                                datagram and the client's Input flushed its ACK (see p001), or,
//	                                more rarely, the client's Close won its race (see p002)
//	ACK after Close: phantom        the same ladder, but the client's ACK reached the listener after the
//	                                server's Close, and the listener accepted it as a new session
//
// The hang: while the handler runs, net/http reads in the background with no read deadline
// (connReader.startBackgroundRead), and after the response it aborts that Read by setting a past
// deadline (abortPendingRead). kcp-go's Read re-reads its deadline only when it already had one
// (sess.go:342-351), so if the background Read was already blocked, the abort never wakes it and the
// server holds the session, retransmitting the unacknowledged response, until the role's bound
// closes it. (When the client ACKed at once, a hang leaves nothing to retransmit and no trace on the
// wire; "delivered, ACKed at once" does not tell the two apart.)
func init() {
	delivered := exchangeLadder(ackAtOnce)[:3]
	register(&harness.Experiment{
		ID:       "p004",
		Title:    "net/http over KCP with keep-alives off",
		Question: "Does a net/http request over a kcp-go session get its response when keep-alives are off?",
		Answer:   p004Answer,
		Server:   httpServer,
		Client:   httpClient(false),
		Trials:   40,
		Classes: []harness.Class{{
			Name:        "delivered",
			Description: "request, its ACK, the response; no ACK of it: the client's Close swallowed it",
			Ladder:      delivered,
			Checks:      []harness.Check{harness.ReadGot(harness.Client), httpServerHung(false), harness.AcceptedSessions(1)},
		}, {
			Name:        "response lost at Close",
			Description: "request and its ACK only: the server's Close dropped the queued response",
			Ladder:      delivered[:2],
			Checks:      []harness.Check{harness.ReadNothing(harness.Client), httpServerHung(false), harness.AcceptedSessions(1)},
		}, {
			Name:        "server hung after the response",
			Description: "the response, then retransmissions: net/http's abort of its background Read never woke kcp-go's Read",
			Ladder: append(delivered[:3:3],
				harness.Push(harness.S2C).WithSn(0).WithUna(1).After(initialRTO),
				harness.Push(harness.S2C).WithSn(0).WithUna(1).After(2*initialRTO),
				harness.Push(harness.S2C).WithSn(0).WithUna(1).After(3*initialRTO)),
			Checks: []harness.Check{harness.ReadGot(harness.Client), httpServerHung(true), harness.AcceptedSessions(1)},
		}, {
			Name:        "delivered, ACKed at once",
			Description: "the client's ACK left within a ms: its Input flushed it (ACK and response in one datagram) or its Close won its race",
			Ladder:      exchangeLadder(ackAtOnce),
			Checks:      []harness.Check{harness.ReadGot(harness.Client), harness.AcceptedSessions(1)},
		}, {
			Name:        "ACK after Close: phantom session",
			Description: "as \"delivered, ACKed at once\", but the ACK reached the listener after the server's Close and made a new session",
			Ladder:      exchangeLadder(ackAtOnce),
			Checks:      []harness.Check{harness.ReadGot(harness.Client), harness.AcceptedSessions(2)},
		}},
		Invariants: []harness.Check{
			harness.NoHandshake(),
			harness.OnlyDataAndAcks(),
			harness.ReadGot(harness.Server),
		},
		Measures: []harness.Measure{
			harness.Accepts(),
			harness.SegmentGap("request → its ACK (ms)", 0, 1),
			harness.SegmentGap("request → response (ms)", 0, 2),
			harness.EventGap("server Write → Close (ms)", harness.EventIs(harness.Server, harness.EvWrite), harness.EventIs(harness.Server, harness.EvClose)),
			responseRetransmissions(),
		},
	})
}

const (
	httpIdle    = time.Second             // the server's IdleTimeout (and ReadHeaderTimeout)
	httpTimeout = time.Second             // the client's timeout for the whole request
	httpBound   = 1500 * time.Millisecond // the server role closes a session net/http still holds
)

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

func p004Answer(r *harness.Result) string {
	c := r.Counts
	got := c["delivered"] + c["server hung after the response"] + c["delivered, ACKed at once"] + c["ACK after Close: phantom session"]
	return fmt.Sprintf("The client got its response in only %d of %d trials: net/http closes the session right after writing it, "+
		"and kcp-go's Close dropped the queued response in %d (the client's Get timed out); the server hung after the response in %d, "+
		"retransmitting it until its role closed the session.", got, len(r.Trials), c["response lost at Close"], c["server hung after the response"])
}
